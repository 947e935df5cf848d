/*
 * privdrop.h - give up root for good once the privileged work is done.
 */
#ifndef PINSHIM_PRIVDROP_H
#define PINSHIM_PRIVDROP_H

int	 privdrop(const char *user);

#endif
