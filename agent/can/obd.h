/*
 * odo-agent CAN — SAE J1979 (OBD-II) payload decoding, no I/O.
 * Values are converted to the units of agent/input.h (speed m/s, distance m).
 */
#ifndef ODO_CAN_OBD_H
#define ODO_CAN_OBD_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"
#include "odo/wire.h"

#define ODO_OBD_MAX_PIDS 256

/* Data bytes that service 01 PID `pid` carries (after the PID byte);
 * 0 when odo does not know the PID. */
int odo_obd_pid_len(uint8_t pid);

/*
 * Decode service 01 PID `pid` from its `len` data bytes into *value
 * (input.h units). ODO_OK; ODO_ERR_PROTOCOL when len is not the PID's length;
 * ODO_ERR_UNSUPPORTED for PIDs odo does not decode (supported-PID bitmaps
 * and PID 01 included: see odo_obd_supported / odo_obd_mil).
 */
int odo_obd_decode_pid(uint8_t pid, const uint8_t *d, size_t len, double *value) ODO_NODISCARD;

/* Inverse of odo_obd_decode_pid for the simulator: physical value -> bytes
 * (clamped to the PID's range). Returns the number of bytes (0 = unknown). */
int odo_obd_encode_pid(uint8_t pid, double value, uint8_t out[4]);

/* Set bits in supported[256] for a supported-PID bitmap PID (00, 20, ...). */
void odo_obd_supported(uint8_t base_pid, const uint8_t d[4], uint8_t supported[ODO_OBD_MAX_PIDS]);

/* PID 01 byte A: MIL on? (bit 7) */
static inline int odo_obd_mil(const uint8_t d[4]) { return (d[0] & 0x80) != 0; }

/* Two DTC bytes -> "P0301" (SAE J2012: 2 bits system, then 4 hex digits). */
void odo_obd_dtc_str(uint8_t a, uint8_t b, char out[ODO_DTC_LEN + 1]);

/* "P0301" -> two DTC bytes; ODO_ERR_INVAL on anything else. */
int odo_obd_dtc_parse(const char *s, uint8_t out[2]) ODO_NODISCARD;

/*
 * Decode a service 43/47/4A response payload (starting at the SID byte) into
 * codes (each ODO_DTC_LEN+1), at most `max`. ISO 15765-4 puts a count byte
 * after the SID; it is checked. Padding codes 0000 are skipped.
 * Returns the number of codes (>= 0) or -ODO_ERR_PROTOCOL when malformed.
 */
int odo_obd_decode_dtcs(const uint8_t *p, size_t len, char (*codes)[ODO_DTC_LEN + 1], int max);

#endif
