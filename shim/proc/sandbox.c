/*
 * sandbox.c - the seccomp filter and no-new-privileges of the worker and
 * the keeper (see sandbox.h).
 *
 * The filter is a deny list, not an allow list: pinshim runs on many libc
 * builds (glibc, musl, static), whose choice of system calls for the same
 * function differs and changes between versions, and a daemon killed by
 * an allow list that missed one is an outage. What it denies is what turns
 * a memory-safety bug into more than the process already is: running
 * another program (execve), reading or writing other processes (ptrace,
 * process_vm_*), the kernel's own attack surface (bpf, perf_event_open,
 * pidfd_getfd, userfaultfd, keyctl, io_uring, module and kexec calls,
 * modify_ldt, netlink sockets), escaping the file system or namespace
 * (mount and the new mount API, pivot_root, chroot, unshare, setns, clone
 * into new namespaces), and outliving the process: a new process (fork,
 * vfork, a clone without CLONE_THREAD) would keep running, with the
 * process's sockets, after the process is gone. clone3 says ENOSYS (its
 * flags sit in memory a filter cannot read), so libc falls back to clone,
 * which is filtered by its flags; threads stay possible. memfd_create and
 * pidfd_open are denied too: anonymous executable memory and handles on
 * other processes. A call on another architecture's ABI (x32, or i386 on
 * x86_64) kills. Denied calls fail with EPERM.
 *
 * Neither process needs any of them once sandboxed: both are forked before
 * (the keeper by daemon.c, before the worker's sandbox; nothing forks
 * after), neither makes a thread, names are resolved by libevent's evdns
 * over UDP/TCP (glibc's getaddrinfo, whose AI_ADDRCONFIG asks netlink, is
 * only for the `pin --connect` and `monitor` commands, which are not
 * sandboxed), and no interface is enumerated (getifaddrs: netlink). Landlock, which could also limit files, is not
 * used: OpenWrt and older gateway kernels do not have it; file access is
 * limited by the worker's user instead.
 *
 * Sanitizer builds keep ptrace and a clone with CLONE_VM|CLONE_UNTRACED:
 * LeakSanitizer stops the world with them, from a tracer it clones.
 *
 * XXX: on i386, glibc reaches socket() through socketcall(2), whose
 * arguments sit in memory: netlink sockets stay possible there (and on
 * o32 MIPS and 32-bit PowerPC, which keep socketcall beside socket).
 *
 * The filter covers every architecture OpenWrt, Debian and Android ship
 * pinshim on: x86_64, i386, arm, aarch64, MIPS (o32, n32 and n64, either
 * byte order), PowerPC (32, 64, 64 LE), riscv64 and loongarch64; elsewhere
 * (arc, s390x, ...) only no-new-privileges applies, with a warning at
 * every start. It is built by hand rather than with libseccomp (which
 * OpenWrt packages): its system call numbers already come from the
 * target's own <sys/syscall.h>, and what is per-architecture is a dozen
 * audit-arch values and two ABI quirks (x32, o32's indirect syscall);
 * libseccomp would add a run-time library to every build, the static and
 * Android ones included, and can read socketcall's arguments no better. A kernel built
 * without seccomp filters (some gateway kernels; qemu-user refuses them
 * too) gets the same, with a warning at every start: refusing to run there
 * would leave those devices without pinning at all.
 *
 * Must never: be skipped silently.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "shim/proc/sandbox.h"

#if defined(__linux__)
#include <sched.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH	AUDIT_ARCH_AARCH64
#elif defined(__arm__) && defined(__ARMEB__)
#define ARCH	AUDIT_ARCH_ARMEB
#elif defined(__arm__)
#define ARCH	AUDIT_ARCH_ARM
#elif defined(__i386__)
#define ARCH	AUDIT_ARCH_I386
/* MIPS (most OpenWrt routers): one value per ABI and byte order. The
 * numbers come from the target's <sys/syscall.h>, which carries each
 * ABI's offset (o32 4000, n64 5000, n32 6000); a call made through
 * another ABI on a 64-bit kernel reports another arch, and kills. */
#elif defined(__mips__) && _MIPS_SIM == _ABIO32 && defined(__MIPSEL__)
#define ARCH	AUDIT_ARCH_MIPSEL
#elif defined(__mips__) && _MIPS_SIM == _ABIO32
#define ARCH	AUDIT_ARCH_MIPS
#elif defined(__mips__) && _MIPS_SIM == _ABIN32 && defined(__MIPSEL__)
#define ARCH	AUDIT_ARCH_MIPSEL64N32
#elif defined(__mips__) && _MIPS_SIM == _ABIN32
#define ARCH	AUDIT_ARCH_MIPS64N32
#elif defined(__mips__) && _MIPS_SIM == _ABI64 && defined(__MIPSEL__)
#define ARCH	AUDIT_ARCH_MIPSEL64
#elif defined(__mips__) && _MIPS_SIM == _ABI64
#define ARCH	AUDIT_ARCH_MIPS64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARCH	AUDIT_ARCH_PPC64LE
#elif defined(__powerpc64__)
#define ARCH	AUDIT_ARCH_PPC64
#elif defined(__powerpc__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARCH	AUDIT_ARCH_PPC
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH	AUDIT_ARCH_RISCV64
#elif defined(__loongarch64) && defined(AUDIT_ARCH_LOONGARCH64)
#define ARCH	AUDIT_ARCH_LOONGARCH64
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif

#define FAIL(e)	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e) & \
		    SECCOMP_RET_DATA))
#define DENY_WITH(nr, e) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), FAIL(e)
#define DENY(nr)	DENY_WITH(nr, EPERM)

/* clone's flags are its first argument on every architecture here; the
 * low word of the 64-bit slot */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARG0_LO	(offsetof(struct seccomp_data, args[0]) + 4)
#else
#define ARG0_LO	offsetof(struct seccomp_data, args[0])
#endif
#define NEW_NAMESPACES	(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | \
			    CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | \
			    CLONE_NEWCGROUP)
/* the clone rules' length after their first jump (see the filter) */
#ifdef SANITIZED
#define CLONE_RULES	9
#else
#define CLONE_RULES	6
#endif

#ifdef ARCH
static const struct sock_filter filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
	/* x32 system calls share the arch value: refuse them all */
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
	DENY(__NR_execve),
	DENY(__NR_execveat),
#ifndef SANITIZED
	DENY(__NR_ptrace),
#endif
	DENY(__NR_process_vm_readv),
	DENY(__NR_process_vm_writev),
	DENY(__NR_mount),
	DENY(__NR_umount2),
#ifdef __NR_umount
	DENY(__NR_umount),
#endif
#ifdef __NR_fsopen			/* the new mount API */
	DENY(__NR_open_tree),
	DENY(__NR_move_mount),
	DENY(__NR_fsopen),
	DENY(__NR_fsconfig),
	DENY(__NR_fsmount),
	DENY(__NR_fspick),
#endif
#ifdef __NR_mount_setattr
	DENY(__NR_mount_setattr),
#endif
#ifdef __NR_pidfd_getfd
	DENY(__NR_pidfd_getfd),
#endif
	DENY(__NR_pivot_root),
	DENY(__NR_chroot),
	DENY(__NR_unshare),
	DENY(__NR_setns),
	DENY(__NR_bpf),
	DENY(__NR_perf_event_open),
	DENY(__NR_userfaultfd),
	DENY(__NR_keyctl),
	DENY(__NR_add_key),
	DENY(__NR_request_key),
	DENY(__NR_init_module),
	DENY(__NR_finit_module),
	DENY(__NR_delete_module),
	DENY(__NR_kexec_load),
#ifdef __NR_kexec_file_load
	DENY(__NR_kexec_file_load),
#endif
	DENY(__NR_open_by_handle_at),
	DENY(__NR_reboot),
	DENY(__NR_swapon),
	DENY(__NR_acct),
#ifdef __NR_iopl
	DENY(__NR_iopl),
	DENY(__NR_ioperm),
#endif
#ifdef __NR_io_uring_setup
	DENY(__NR_io_uring_setup),
	DENY(__NR_io_uring_enter),
	DENY(__NR_io_uring_register),
#endif
#ifdef __NR_modify_ldt
	DENY(__NR_modify_ldt),
#endif
#ifdef __NR_memfd_create
	DENY(__NR_memfd_create),
#endif
#ifdef __NR_pidfd_open
	DENY(__NR_pidfd_open),
#endif
#ifdef __NR_fork
	DENY(__NR_fork),
#endif
#ifdef __NR_vfork
	DENY(__NR_vfork),
#endif
#if defined(__mips__) && _MIPS_SIM == _ABIO32
	/* o32's indirect syscall(2), a call by number in its first argument:
	 * no libc needs it, and it is a way round a filter that reads nr */
	DENY(__NR_syscall),
#endif
#ifdef __NR_clone3
	/* its flags sit in memory a filter cannot read: "not here", and
	 * libc falls back to clone */
	DENY_WITH(__NR_clone3, ENOSYS),
#endif
	/* socket, but not AF_NETLINK */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 4),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
	FAIL(EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	/* clone: a thread, never a new process or a new namespace (unshare's
	 * way round). A thread is CLONE_THREAD, which the kernel takes only
	 * with CLONE_VM and CLONE_SIGHAND: it dies with the process. */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, CLONE_RULES),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NEW_NAMESPACES, 0, 1),
	FAIL(EPERM),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#ifdef SANITIZED
	/* LeakSanitizer's tracer at exit */
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, CLONE_VM | CLONE_UNTRACED),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CLONE_VM | CLONE_UNTRACED, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
	FAIL(EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
#endif

int
sandbox_apply(char *err, size_t errsz)
{
#ifdef ARCH
	struct sock_fprog	 prog = {
		.len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
		.filter = (struct sock_filter *)filter,
	};
#endif

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errsz, "sandbox: no_new_privs: %s",
		    strerror(errno));
		return -1;
	}
#ifdef ARCH
	/* A NULL program: EFAULT where filters exist, EINVAL where they do
	 * not (or qemu-user). Then a failure of the real one is ours, and
	 * fatal: a broken filter must not pass for a missing feature. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0) == -1 &&
	    errno == EINVAL) {
		log_warn("sandbox: this kernel takes no seccomp filter "
		    "(CONFIG_SECCOMP_FILTER): no-new-privileges only");
		return 0;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1) {
		snprintf(err, errsz, "sandbox: seccomp filter: %s",
		    strerror(errno));
		return -1;
	}
#else
	log_warn("sandbox: no seccomp filter for this architecture: "
	    "no-new-privileges only");
#endif
	return 0;
}

#else	/* not Linux: no-new-privileges has no equivalent to set */

int
sandbox_apply(char *err, size_t errsz)
{
	(void)err;
	(void)errsz;
	return 0;
}

#endif
