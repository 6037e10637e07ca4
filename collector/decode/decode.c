/* odo-collector — message validation (see decode.h). */
#include "decode/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(struct odo_wire_error *err, int code, const char *field, const char *msg)
{
	err->code = code;
	err->offset = 0;
	snprintf(err->field, sizeof err->field, "%s", field);
	snprintf(err->msg, sizeof err->msg, "%s", msg);
}

int odo_decode_topic(const char *topic, char *dev, struct odo_wire_error *err)
{
	size_t plen = strlen(ODO_COLLECTOR_TOPIC_PREFIX);
	if (strncmp(topic, ODO_COLLECTOR_TOPIC_PREFIX, plen) != 0)
		goto bad;
	const char *d = topic + plen;
	const char *slash = strchr(d, '/');
	if (!slash || strcmp(slash, "/up") != 0)
		goto bad;
	size_t n = (size_t)(slash - d);
	if (n == 0 || n > ODO_DEVICE_ID_MAX)
		goto bad;
	memcpy(dev, d, n);
	dev[n] = '\0';
	if (!odo_wire_device_id_valid(dev))
		goto bad;
	return ODO_OK;
bad:
	dev[0] = '\0';
	set_err(err, ODO_ERR_INVAL, "topic", "The topic is not odo/v1/<device id>/up with a valid device id.");
	return ODO_ERR_INVAL;
}

int odo_decode_batch_alloc(struct odo_batch **out)
{
	*out = NULL;
	struct odo_batch *b = calloc(1, sizeof *b);
	if (!b)
		return ODO_ERR_NOMEM;
	b->recs = calloc(ODO_WIRE_MAX_RECORDS, sizeof *b->recs);
	b->bad = calloc(ODO_WIRE_MAX_RECORDS, sizeof *b->bad);
	if (!b->recs || !b->bad) {
		odo_decode_batch_free(b);
		return ODO_ERR_NOMEM;
	}
	b->cap = ODO_WIRE_MAX_RECORDS;
	b->bad_cap = ODO_WIRE_MAX_RECORDS;
	*out = b;
	return ODO_OK;
}

void odo_decode_batch_free(struct odo_batch *b)
{
	if (!b)
		return;
	free(b->recs);
	free(b->bad);
	free(b);
}

int odo_decode_again(const uint8_t *buf, size_t len, int64_t now_ms, struct odo_batch *out,
		     struct odo_wire_error *err)
{
	const struct odo_wire_limits lim = { .now_ms = now_ms };
	memset(err, 0, sizeof *err);
	return odo_wire_decode_batch(buf, len, now_ms ? &lim : NULL, out, err);
}

int odo_decode_message(const char *topic, const uint8_t *buf, size_t len, int64_t now_ms, struct odo_batch *out,
		       struct odo_wire_error *err)
{
	char dev[ODO_DEVICE_ID_MAX + 1];
	memset(err, 0, sizeof *err);
	int rc = odo_decode_topic(topic, dev, err);
	if (rc)
		return rc;
	if (len > ODO_WIRE_MAX_MESSAGE) {
		set_err(err, ODO_ERR_WIRE_TOOLONG, "message", "");
		snprintf(err->msg, sizeof err->msg, "The message is %zu bytes; the limit is %d.", len,
			 ODO_WIRE_MAX_MESSAGE);
		return ODO_ERR_WIRE_TOOLONG;
	}
	rc = odo_decode_again(buf, len, now_ms, out, err);
	if (rc)
		return rc;
	if (strcmp(out->device, dev) != 0) {
		set_err(err, ODO_ERR_PROTOCOL, "dev", "");
		snprintf(err->msg, sizeof err->msg, "The payload's device '%.48s' is not the topic's '%.48s'.",
			 out->device, dev);
		return ODO_ERR_PROTOCOL;
	}
	if (out->n + out->nbad == 0) {
		set_err(err, ODO_ERR_WIRE_RANGE, "recs", "The batch holds no records.");
		return ODO_ERR_WIRE_RANGE;
	}
	return ODO_OK;
}

const char *odo_decode_code_name(int code)
{
	static const char *const names[] = {
		"ODO_OK", "ODO_ERR_NOMEM", "ODO_ERR_INVAL", "ODO_ERR_IO", "ODO_ERR_PROTOCOL",
		"ODO_ERR_FULL", "ODO_ERR_AGAIN", "ODO_ERR_DB", "ODO_ERR_TIMEOUT", "ODO_ERR_NOTFOUND",
		"ODO_ERR_UNSUPPORTED", "ODO_ERR_CONFIG", "ODO_ERR_CLOSED", "ODO_ERR_RANGE", "ODO_ERR_TOOBIG",
		"ODO_ERR_WIRE_MALFORMED", "ODO_ERR_WIRE_VERSION", "ODO_ERR_WIRE_TYPE", "ODO_ERR_WIRE_MISSING",
		"ODO_ERR_WIRE_RANGE", "ODO_ERR_WIRE_TOOLONG", "ODO_ERR_WIRE_TRAILING", "ODO_ERR_WIRE_UNKNOWN",
		"ODO_ERR_WIRE_DUPLICATE",
	};
	if (code >= 0 && (size_t)code < ODO_ARRAY_LEN(names))
		return names[code];
	return "ODO_ERR_UNKNOWN";
}
