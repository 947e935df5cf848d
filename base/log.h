/*
 * log.h - one line per event on stderr (journald and procd pick it up),
 * "TIME pinshim[PID] LEVEL: message", verdicts as key=value fields; when
 * stderr is the journal ($JOURNAL_STREAM), "<PRIORITY>LEVEL: message";
 * or, with [shim] log = syslog, one RFC 5424 datagram per line to
 * syslog. With log_format = json the message part is a JSON object.
 */
#ifndef PINSHIM_LOG_H
#define PINSHIM_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

#define LOG_SYSLOG_PATH	"/dev/log"

void	 log_set_level(enum log_level);
void	 log_set_format(enum log_format);
bool	 log_parse_format(const char *, enum log_format *);
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
