/*
 * odo-agent — sealing outbox records: AES-256-GCM, key files, key ids.
 * See store_int.h and docs/store-and-forward.md "Encryption at rest".
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "odo/err.h"
#include "odo/files.h"
#include "odo/hex.h"

struct store_seal {
	struct store_key cur, old;
	int has_old;
	EVP_CIPHER_CTX *enc, *dec, *dec_old;
};

int store__key_load(const char *what, const char *path, struct store_key *k, char *why, size_t whysz)
{
	char text[2 * STORE_KEY_BYTES + 8], reason[160];
	int rc = odo_secret_file_read(path, text, sizeof text, reason, sizeof reason);
	if (rc == ODO_ERR_TOOBIG)
		snprintf(reason, sizeof reason, "longer than 64 hex digits");
	if (rc == ODO_OK) {
		size_t n = strlen(text);
		while (n && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' || text[n - 1] == '\n'))
			n--;
		if (n != 2 * STORE_KEY_BYTES)
			rc = ODO_ERR_INVAL;
		for (size_t i = 0; rc == ODO_OK && i < STORE_KEY_BYTES; i++) {
			int hi = odo_hex_digit(text[2 * i]), lo = odo_hex_digit(text[2 * i + 1]);
			if (hi < 0 || lo < 0)
				rc = ODO_ERR_INVAL;
			else
				k->k[i] = (uint8_t)(hi << 4 | lo);
		}
		if (rc != ODO_OK)
			snprintf(reason, sizeof reason,
				 "not an AES-256 key: 64 hex digits expected (make one with `openssl rand -hex 32`)");
	}
	OPENSSL_cleanse(text, sizeof text);
	if (rc != ODO_OK) {
		OPENSSL_cleanse(k->k, sizeof k->k);
		snprintf(why, whysz, "%s %s: %s", what, path, reason);
		return rc;
	}
	/* The key id: public, stored beside every body sealed with the key. */
	static const char label[] = "odo-outbox-key-id";
	uint8_t in[sizeof label - 1 + STORE_KEY_BYTES], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	memcpy(in, label, sizeof label - 1);
	memcpy(in + sizeof label - 1, k->k, STORE_KEY_BYTES);
	int ok = EVP_Digest(in, sizeof in, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen >= 4;
	OPENSSL_cleanse(in, sizeof in);
	if (!ok) {
		snprintf(why, whysz, "%s %s: SHA-256 failed (OpenSSL)", what, path);
		return ODO_ERR_IO;
	}
	k->id = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
	if (k->id == 0)
		k->id = 1;
	return ODO_OK;
}

static EVP_CIPHER_CTX *ctx_for(const struct store_key *k, int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return NULL;
	/* the default IV length of GCM is the 96 bits used here */
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, k->k, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

int store__seal_new(const struct store_key *cur, const struct store_key *old, struct store_seal **out)
{
	*out = NULL;
	struct store_seal *s = calloc(1, sizeof *s);
	if (!s)
		return ODO_ERR_NOMEM;
	s->cur = *cur;
	s->enc = ctx_for(cur, 1);
	s->dec = ctx_for(cur, 0);
	if (old) {
		s->old = *old;
		s->has_old = 1;
		s->dec_old = ctx_for(old, 0);
	}
	/* the first random bytes set up OpenSSL's generator (allocates): here, not per record */
	uint8_t warm[STORE_NONCE_BYTES];
	if (!s->enc || !s->dec || (old && !s->dec_old) || RAND_bytes(warm, sizeof warm) != 1) {
		store__seal_free(s);
		return ODO_ERR_IO;
	}
	*out = s;
	return ODO_OK;
}

void store__seal_free(struct store_seal *s)
{
	if (!s)
		return;
	EVP_CIPHER_CTX_free(s->enc);
	EVP_CIPHER_CTX_free(s->dec);
	EVP_CIPHER_CTX_free(s->dec_old);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

uint32_t store__seal_kid(const struct store_seal *s)
{
	return s ? s->cur.id : 0;
}

int store__seal_knows(const struct store_seal *s, uint32_t kid)
{
	return s && kid && (kid == s->cur.id || (s->has_old && kid == s->old.id));
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* "odo-ob" 'r' epoch seq kind prio tsrc t_ms kid: 42 bytes */
size_t store__aad_row(uint8_t out[STORE_AAD_MAX], uint64_t epoch, uint64_t seq, int kind, int prio, int tsrc,
		      int64_t t_ms, uint32_t kid)
{
	uint8_t *p = out;
	memcpy(p, "odo-obr", 7);
	p += 7;
	p = put_be(p, epoch, 8);
	p = put_be(p, seq, 8);
	*p++ = (uint8_t)kind;
	*p++ = (uint8_t)prio;
	*p++ = (uint8_t)tsrc;
	p = put_be(p, (uint64_t)t_ms, 8);
	p = put_be(p, kid, 4);
	return (size_t)(p - out);
}

/* "odo-obt" epoch trip_id kid: 27 bytes */
size_t store__aad_trip(uint8_t out[STORE_AAD_MAX], uint64_t epoch, uint64_t trip_id, uint32_t kid)
{
	uint8_t *p = out;
	memcpy(p, "odo-obt", 7);
	p += 7;
	p = put_be(p, epoch, 8);
	p = put_be(p, trip_id, 8);
	p = put_be(p, kid, 4);
	return (size_t)(p - out);
}

int store__seal(struct store_seal *s, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t n, uint8_t *out,
		size_t outsz, size_t *outlen)
{
	if (n > (size_t)INT32_MAX || outsz < n + STORE_SEAL_OVERHEAD)
		return ODO_ERR_TOOBIG;
	/* A fresh random nonce per record (docs/store-and-forward.md: why not a counter) */
	if (RAND_bytes(out, STORE_NONCE_BYTES) != 1)
		return ODO_ERR_IO;
	int l = 0, f = 0;
	uint8_t *ct = out + STORE_NONCE_BYTES;
	if (EVP_EncryptInit_ex(s->enc, NULL, NULL, NULL, out) != 1 ||
	    EVP_EncryptUpdate(s->enc, NULL, &l, aad, (int)aadlen) != 1 ||
	    EVP_EncryptUpdate(s->enc, ct, &l, in, (int)n) != 1 || EVP_EncryptFinal_ex(s->enc, ct + l, &f) != 1 ||
	    (size_t)(l + f) != n ||
	    EVP_CIPHER_CTX_ctrl(s->enc, EVP_CTRL_AEAD_GET_TAG, STORE_TAG_BYTES, ct + n) != 1)
		return ODO_ERR_IO;
	*outlen = n + STORE_SEAL_OVERHEAD;
	return ODO_OK;
}

int store__unseal(struct store_seal *s, uint32_t kid, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t n,
		  uint8_t *out, size_t outsz, size_t *outlen)
{
	EVP_CIPHER_CTX *c = !s || !kid ? NULL : kid == s->cur.id ? s->dec : s->has_old && kid == s->old.id ? s->dec_old : NULL;
	if (!c)
		return ODO_ERR_NOTFOUND;
	if (n < STORE_SEAL_OVERHEAD)
		return ODO_ERR_PROTOCOL;
	size_t m = n - STORE_SEAL_OVERHEAD;
	if (m > outsz || m > (size_t)INT32_MAX)
		return ODO_ERR_TOOBIG;
	const uint8_t *ct = in + STORE_NONCE_BYTES;
	int l = 0, f = 0;
	/* the tag is cast away from const: OpenSSL's ctrl takes void * (it copies it) */
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, in) != 1 || EVP_DecryptUpdate(c, NULL, &l, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(c, out, &l, ct, (int)m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, STORE_TAG_BYTES, (void *)(uintptr_t)(ct + m)) != 1 ||
	    EVP_DecryptFinal_ex(c, out + l, &f) != 1) {
		OPENSSL_cleanse(out, m);
		return ODO_ERR_PROTOCOL;
	}
	*outlen = m;
	return ODO_OK;
}
