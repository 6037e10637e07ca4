/*
 * odo-agent phone — the companion app's state over a local socket.
 *
 * Protocol "odo-phone/1" (docs/inputs.md): one line per state, ASCII,
 * newline-terminated, at most ODO_PHONE_LINE_MAX bytes:
 *
 *   odo-phone/1 screen=on call=handheld handled=0\n
 *
 * keys screen (on|off), call (none|handheld|handsfree), handled (0|1), each
 * exactly once, any order, single spaces. The agent answers every line with
 * "ok\n" or "err <reason>\n"; a rejected line changes nothing and is logged.
 * A client sending a line longer than the limit gets "err line too long"
 * and the rest of that line is discarded. Several clients may be connected
 * (ODO_PHONE_MAX_CLIENTS); no allocation per message.
 *
 * Who may connect (docs/inputs.md "Who may send phone states"): the UNIX
 * socket is created mode [phone] socket_mode (0660) and group socket_group,
 * so the file system decides. TCP (loopback only) is opened only with a
 * shared token (token_file, mode 0600): a TCP client's first line must be
 *
 *   odo-phone/1 token=<the token>\n
 *
 * answered "ok\n"; a wrong or missing token, or no line within
 * ODO_PHONE_AUTH_S seconds, is refused ("err ..."), logged and the
 * connection closed.
 */
#ifndef ODO_AGENT_PHONE_H
#define ODO_AGENT_PHONE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "odo/clock.h"
#include "odo/config.h"
#include "source.h"

#define ODO_PHONE_LINE_MAX 256
#define ODO_PHONE_MAX_CLIENTS 4
#define ODO_PHONE_PATH_MAX 108 /* sizeof sun_path */
#define ODO_PHONE_REASON_MAX 64
#define ODO_PHONE_TOKEN_MIN 16  /* characters of a TCP token, at least */
#define ODO_PHONE_TOKEN_MAX 128
#define ODO_PHONE_AUTH_S 5      /* a TCP client authenticates within this */

/* Section [phone]. */
struct odo_phone_cfg {
	char socket_path[ODO_PHONE_PATH_MAX]; /* "" = no UNIX socket */
	char socket_mode[8];                  /* octal permissions of the socket file */
	char socket_group[64];                /* its group; "" = the agent's */
	long long tcp_port;                   /* 0 = no TCP; listens on 127.0.0.1 only */
	char token_file[256];                 /* TCP's shared token (required with tcp_port) */
};

extern const struct odo_cfg_key odo_phone_cfg_keys[];
extern const size_t odo_phone_cfg_nkeys;

struct odo_phone;

struct odo_phone_stats {
	struct odo_source_stats src; /* received = states delivered; errors = rejected lines */
	uint64_t clients_accepted;
	uint64_t clients_refused;    /* over ODO_PHONE_MAX_CLIENTS */
	uint64_t auth_refused;       /* TCP clients refused: wrong, missing or late token */
};

/*
 * Parse one protocol line (trailing newline optional) into *out (mono_ns
 * not set). On failure returns ODO_ERR_PROTOCOL and writes a short reason
 * to `reason` (ODO_PHONE_REASON_MAX bytes). Pure; no state.
 */
int odo_phone_parse(const char *line, size_t len, struct odo_phone_state *out,
		    char reason[ODO_PHONE_REASON_MAX]) ODO_NODISCARD;

/*
 * Listen as configured (cfg NULL: replay only, no sockets). An existing
 * socket file at socket_path is replaced; the new one never exists with
 * wider permissions than socket_mode. Returns ODO_OK, ODO_ERR_INVAL,
 * ODO_ERR_NOMEM, ODO_ERR_IO (bind/listen failed; logged), ODO_ERR_CONFIG
 * (tcp_port without a usable token_file, a bad socket_mode or group;
 * logged, naming the key and the reason).
 */
int odo_phone_open(const struct odo_phone_cfg *cfg, const struct odo_clock *clock,
		   const struct odo_sink *sink, struct odo_phone **out) ODO_NODISCARD;

struct odo_source odo_phone_source(struct odo_phone *p);

/* Parse and deliver one line as if a client had sent it (replay). Returns
 * ODO_OK or ODO_ERR_PROTOCOL (counted, logged). */
int odo_phone_feed_line(struct odo_phone *p, const char *line, size_t len) ODO_NODISCARD;

/* Write each accepted state to f as a phone.csv row (borrowed; NULL stops). */
void odo_phone_set_recorder(struct odo_phone *p, FILE *f);

/* The phone.csv header line (without newline), and the longest row. */
#define ODO_PHONE_CSV_HEADER "t,screen,call,handled"
#define ODO_PHONE_CSV_LINE_MAX 64

/* One phone.csv row "t,screen,call,handled" (t = Unix s.us of receipt;
 * on|off, none|handheld|handsfree, 0|1): the recorder writes it, a replay
 * reads it. format returns the length (0: does not fit); parse: ODO_OK,
 * ODO_ERR_INVAL (not such a row), ODO_ERR_PROTOCOL (a field's value is not
 * one of its words); outputs untouched on error (mono_ns not set). */
size_t odo_phone_csv_format(char *buf, size_t size, int64_t t_real_ns, const struct odo_phone_state *s);
int odo_phone_csv_parse(const char *line, int64_t *t_real_ns, struct odo_phone_state *out) ODO_NODISCARD;

/* Replay: deliver one recorded state as if a client had sent it now
 * (stamped, counted, to the sink). ODO_OK or ODO_ERR_INVAL. */
int odo_phone_feed(struct odo_phone *p, const struct odo_phone_state *s) ODO_NODISCARD;

void odo_phone_stats(const struct odo_phone *p, struct odo_phone_stats *out);

/* Close sockets, unlink the UNIX socket, free; NULL is a no-op. */
void odo_phone_close(struct odo_phone *p);

#endif
