/*
 * odo-agent — what the uplink exposes to its own tests (private; see
 * uplink.h).
 */
#ifndef ODO_AGENT_UPLINK_INT_H
#define ODO_AGENT_UPLINK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "uplink/uplink.h"

/*
 * One message received on odo/v1/<device>/ack (the MQTT callback calls
 * this). Applies the ack (odo_store_ack) only when it is a version 2 ack
 * for this device and this outbox's epoch, and not beyond the last
 * sequence number the outbox handed out. Returns ODO_OK (applied, or an
 * older ack: harmless), ODO_ERR_WIRE_* (undecodable; stats bad_acks),
 * ODO_ERR_INVAL (another device; bad_acks), ODO_ERR_PROTOCOL (another
 * version or epoch, or beyond the outbox: logged with both numbers, counted
 * in stats ack_errors, nothing deleted).
 */
int uplink__handle_ack(struct odo_uplink *u, const uint8_t *payload, size_t len) ODO_NODISCARD;

#endif
