/*
 * odo-collector — turning one MQTT message into a validated batch, or into
 * a precise rejection for the dead-letter table.
 */
#ifndef ODO_COLLECTOR_DECODE_H
#define ODO_COLLECTOR_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "odo/wire.h"

/* Rejections that are not the wire decoder's: they reuse odo_wire_error
 * with these codes (the decoder's own are ODO_ERR_WIRE_*). */
#define ODO_COLLECTOR_TOPIC_PREFIX "odo/v1/"

/*
 * Extract the device id from "odo/v1/<device>/up" into dev (ODO_DEVICE_ID_MAX+1
 * bytes). Returns ODO_OK or ODO_ERR_INVAL (err filled) when the topic does not
 * have that shape or the id is invalid.
 */
int odo_decode_topic(const char *topic, char *dev, struct odo_wire_error *err) ODO_NODISCARD;

/*
 * Validate and decode a message received on `topic`: size limit first, then
 * the wire decoder (versions 1 and 2, into scratch, ODO_WIRE_MAX_RECORDS
 * records) with the receiver's time window (now_ms: UTC ms of the real
 * clock), then the payload's device must equal the topic's. On success
 * *out is a malloc'd batch whose recs hold exactly n records and bad the
 * nbad records refused on their own (raw bytes at bad[i].off/len of the
 * message; caller frees with odo_decode_free()); n may be 0 when every
 * record was refused. On rejection of the whole message returns the error
 * code and fills *err.
 */
int odo_decode_message(const char *topic, const uint8_t *buf, size_t len, int64_t now_ms,
		       struct odo_record *scratch, struct odo_batch **out, struct odo_wire_error *err) ODO_NODISCARD;

/* Free a batch from odo_decode_message(); NULL is a no-op. */
void odo_decode_free(struct odo_batch *b);

/* Symbolic name of an error code ("ODO_ERR_WIRE_TYPE"). */
const char *odo_decode_code_name(int code);

#endif
