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
 * A batch with room for the largest message (ODO_WIRE_MAX_RECORDS records
 * and as many refused records),
 * for odo_decode_message() and odo_decode_again(). ODO_ERR_NOMEM.
 * odo_decode_batch_free() releases it (NULL is a no-op).
 */
int odo_decode_batch_alloc(struct odo_batch **out) ODO_NODISCARD;
void odo_decode_batch_free(struct odo_batch *b);

/*
 * Validate and decode a message received on `topic` into `out` (from
 * odo_decode_batch_alloc()): size limit first, then the wire decoder with
 * the receiver's time window (now_ms: the receiver's UTC clock in ms; 0 =
 * no window), then the payload's device must equal the topic's. On
 * rejection of the whole message returns the error code and fills *err;
 * records refused on their own are not an error: they are in out->bad (a
 * batch may have no good record, its range still to be settled).
 */
int odo_decode_message(const char *topic, const uint8_t *buf, size_t len, int64_t now_ms, struct odo_batch *out,
		       struct odo_wire_error *err) ODO_NODISCARD;

/*
 * Decode again a message odo_decode_message() accepted with the same
 * now_ms: the writer queues raw messages and decodes each when it writes it,
 * so the queue holds the bytes received, not the (much larger) decoded
 * records. Returns what the wire decoder returns.
 */
int odo_decode_again(const uint8_t *buf, size_t len, int64_t now_ms, struct odo_batch *out,
		     struct odo_wire_error *err) ODO_NODISCARD;

/* Symbolic name of an error code ("ODO_ERR_WIRE_TYPE"). */
const char *odo_decode_code_name(int code);

#endif
