#include "odo/err.h"

static const char *const messages[ODO_ERR__COUNT] = {
	[ODO_OK] = "success",
	[ODO_ERR_NOMEM] = "out of memory",
	[ODO_ERR_INVAL] = "invalid argument",
	[ODO_ERR_IO] = "input/output error",
	[ODO_ERR_PROTOCOL] = "protocol error",
	[ODO_ERR_FULL] = "full",
	[ODO_ERR_AGAIN] = "try again",
	[ODO_ERR_DB] = "database error",
	[ODO_ERR_TIMEOUT] = "timed out",
	[ODO_ERR_NOTFOUND] = "not found",
	[ODO_ERR_UNSUPPORTED] = "not supported",
	[ODO_ERR_CONFIG] = "configuration error",
	[ODO_ERR_CLOSED] = "closed",
	[ODO_ERR_RANGE] = "out of range",
	[ODO_ERR_TOOBIG] = "too big for the destination",
	[ODO_ERR_WIRE_MALFORMED] = "malformed or truncated CBOR",
	[ODO_ERR_WIRE_VERSION] = "unsupported wire version",
	[ODO_ERR_WIRE_TYPE] = "wrong type",
	[ODO_ERR_WIRE_MISSING] = "required field missing",
	[ODO_ERR_WIRE_RANGE] = "value out of range",
	[ODO_ERR_WIRE_TOOLONG] = "string or array too long",
	[ODO_ERR_WIRE_TRAILING] = "trailing bytes after the message",
	[ODO_ERR_WIRE_UNKNOWN] = "unknown key or kind",
	[ODO_ERR_WIRE_DUPLICATE] = "duplicate key",
};

const char *odo_strerror(int e)
{
	if (e < 0 || e >= ODO_ERR__COUNT || messages[e] == 0)
		return "unknown error";
	return messages[e];
}
