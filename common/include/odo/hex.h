/*
 * odo — one hexadecimal digit (candump logs, key files, slcan lines).
 */
#ifndef ODO_HEX_H
#define ODO_HEX_H

/* The value of the hex digit c (either case), or -1 when c is not one. */
static inline int odo_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
