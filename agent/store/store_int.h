/*
 * odo-agent — what the outbox's files share (private to agent/store).
 *
 * seal.c: the optional encryption of stored records (issue 13 item 6,
 * docs/store-and-forward.md "Encryption at rest"): AES-256-GCM through
 * OpenSSL's EVP interface, one random 96-bit nonce per sealed body, the
 * row's identity (epoch, seq or trip id, kind, class, time, key id) as
 * associated data. A sealed body is nonce || ciphertext || tag; its key id
 * is the row's `kid` column (0: stored in plaintext).
 *
 * No allocation per record: the cipher contexts are made once (with their
 * keys) and re-initialised with a new nonce for every record.
 */
#ifndef ODO_AGENT_STORE_INT_H
#define ODO_AGENT_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_BYTES 32 /* AES-256 */
#define STORE_NONCE_BYTES 12
#define STORE_TAG_BYTES 16
#define STORE_SEAL_OVERHEAD (STORE_NONCE_BYTES + STORE_TAG_BYTES)
#define STORE_AAD_MAX 48

struct store_key {
	uint8_t k[STORE_KEY_BYTES];
	uint32_t id; /* the first 32 bits of SHA-256("odo-outbox-key-id" || key), never 0 */
};

/* Read a key file: 64 hex digits (an AES-256 key, `openssl rand -hex 32`),
 * a trailing newline allowed; the file must be a regular file that neither
 * group nor others may access (odo_secret_file_read). `what` names the
 * setting in `why` ("[store] key_file"). ODO_ERR_NOTFOUND, ODO_ERR_IO,
 * ODO_ERR_CONFIG (mode), ODO_ERR_INVAL (not a key). */
int store__key_load(const char *what, const char *path, struct store_key *k, char *why, size_t whysz);

struct store_seal;

/* The sealing state: `cur` seals and opens, `old` (may be NULL) only opens
 * (a key being rotated out). ODO_ERR_NOMEM, ODO_ERR_IO (OpenSSL refused). */
int store__seal_new(const struct store_key *cur, const struct store_key *old, struct store_seal **out);
void store__seal_free(struct store_seal *s);
uint32_t store__seal_kid(const struct store_seal *s);
/* 1 when kid is the current or the old key's id. */
int store__seal_knows(const struct store_seal *s, uint32_t kid);

/* Associated data binding a body to its row. */
size_t store__aad_row(uint8_t out[STORE_AAD_MAX], uint64_t epoch, uint64_t seq, int kind, int prio, int tsrc,
		      int64_t t_ms, uint32_t kid);
size_t store__aad_trip(uint8_t out[STORE_AAD_MAX], uint64_t epoch, uint64_t trip_id, uint32_t kid);

/* Seal n bytes with the current key into out (n + STORE_SEAL_OVERHEAD
 * bytes). ODO_ERR_TOOBIG, ODO_ERR_IO (no randomness, OpenSSL failure). */
int store__seal(struct store_seal *s, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t n, uint8_t *out,
		size_t outsz, size_t *outlen);
/* Open a body sealed with key `kid` into out. ODO_ERR_NOTFOUND (no such
 * key), ODO_ERR_TOOBIG, ODO_ERR_PROTOCOL (it does not authenticate: another
 * key, another row's body, or damaged; out is zeroed). */
int store__unseal(struct store_seal *s, uint32_t kid, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t n,
		  uint8_t *out, size_t outsz, size_t *outlen);

#endif
