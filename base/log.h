/*
 * log.h - one line per event on stderr (journald and procd pick it up),
 * "TIME pinshim[PID] LEVEL: message", verdicts as key=value fields; when
 * stderr is the journal ($JOURNAL_STREAM), "<PRIORITY>LEVEL: message";
 * or, with [shim] log = syslog, one datagram per line to syslog: RFC
 * 3164's local form by default, what syslog(3) sends and every syslog
 * daemon reads, or RFC 5424 (syslog_format). With log_format = json the
 * message part is a JSON object.
 */
#ifndef PINSHIM_LOG_H
#define PINSHIM_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum log_syslog_format { LOG_SYSLOG_RFC3164, LOG_SYSLOG_RFC5424 };

#define LOG_SYSLOG_PATH	"/dev/log"

void	 log_set_level(enum log_level);
void	 log_set_format(enum log_format);
bool	 log_parse_format(const char *, enum log_format *);
void	 log_set_syslog_format(enum log_syslog_format);
bool	 log_parse_syslog_format(const char *, enum log_syslog_format *);
/* From now on, lines go to the syslog socket at path (facility daemon),
 * not stderr. -1 with errno if it cannot be reached; stderr stays. */
int	 log_to_syslog(const char *path);
void	 log_to_stderr(void);
/* Lines syslog could not take at once (a full socket), dropped. */
unsigned long long log_dropped(void);
bool	 log_parse_level(const char *, enum log_level *);
void	 log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
