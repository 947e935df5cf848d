/*
 * version.h - pinshim's version, for `pinshim version` and /metrics.
 */
#ifndef PINSHIM_SHIM_VERSION_H
#define PINSHIM_SHIM_VERSION_H

#ifndef PINSHIM_VERSION
#define PINSHIM_VERSION "0.1.0"
#endif

#endif
