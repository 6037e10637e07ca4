/*
 * odo-agent — the parts and the one run (agent.h).
 *
 *   live      sources (gpsd, CAN, accelerometer, phone) -> engine -> outbox -> uplink,
 *             all driven by one discrete-event loop (loop.h) following the
 *             system clock;
 *   --record  the same, with every source's raw input also written to a
 *             drive-recording directory (docs/inputs.md);
 *   --replay  the same loop, the recording one more source, on a virtual
 *             clock as fast as the CPU allows; the outbox and uplink run on
 *             the system clock alongside, and after the drive the agent keeps
 *             sending until the collector has acknowledged everything (or the
 *             drain timeout passes).
 *
 * Signals: SIGTERM/SIGINT end the trip, flush what the link allows within
 * [agent] shutdown_grace_s and exit 0; SIGHUP reopens the log file and
 * reloads the reloadable settings.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "odo/err.h"
#include "odo/log.h"
#include "odo/wire.h"

#include "agent.h"

/* How often the engine is ticked (periodic samples, trip timeouts). */
#define AGENT_ENGINE_TICK_NS (100 * ODO_NS_PER_MS)

/* SIGHUP: reopen the log and apply the reloadable settings. */
static void reload(struct agent *a)
{
	static struct odo_agent_conf fresh; /* large: not on the stack */
	struct odo_agent_cfg *cur = &a->conf.agent;
	char why[ODO_CFG_ERR_MAX];
	int rc = odo_agent_conf_reread(&a->conf, &fresh, why, sizeof(why));

	if (rc != ODO_OK) {
		if (rc != ODO_ERR_NOTFOUND)
			ODO_LOG(WARN, "agent", "SIGHUP: keeping the running configuration: %s", why);
		odo_log_reopen(cur->log_file);
		return;
	}
	cur->log_level = fresh.agent.log_level;
	memcpy(cur->log_file, fresh.agent.log_file, sizeof(cur->log_file));
	odo_log_threshold = cur->log_level;
	if (odo_log_reopen(cur->log_file) != ODO_OK)
		ODO_LOG(WARN, "agent", "SIGHUP: cannot reopen log file %s: %s", cur->log_file, strerror(errno));
	if (a->uplink && odo_uplink_reload(a->uplink, &fresh.uplink) != ODO_OK)
		ODO_LOG(WARN, "agent", "SIGHUP: uplink settings not applied");
	ODO_LOG(INFO, "agent", "SIGHUP: log reopened, settings reloaded (log_level %s)",
		odo_agent_log_levels[cur->log_level]);
}

/* ---- records ----------------------------------------------------------- */

static void emit_line(struct agent *a, const struct odo_record *r)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	char line[96 + 2 * ODO_WIRE_MAX_RECORD_BYTES];
	size_t len = 0;
	int n;

	if (!a->emit)
		return;
	if (odo_wire_encode_record(r, buf, sizeof(buf), &len) != ODO_OK)
		len = 0;
	n = snprintf(line, 96, "%" PRIu64 " %s %" PRId64 " %u ", r->seq, odo_record_kind_name(r->kind), r->t_ms,
		     (unsigned)r->tsrc);
	if (n < 0 || n >= 96)
		return;
	for (size_t i = 0; i < len; i++) {
		line[n++] = hex[buf[i] >> 4];
		line[n++] = hex[buf[i] & 15];
	}
	line[n++] = '\n';
	/* One write per record line (the file is line-buffered). */
	fwrite(line, 1, (size_t)n, a->emit);
}

/* The engine's (and the status timer's) output: into the outbox. */
static int put_record(void *ctx, struct odo_record *r)
{
	struct agent *a = ctx;
	int rc = odo_store_put(a->store, r);

	if (rc != ODO_OK) {
		a->record_errors++;
		/* Logged, counted, survived: the loop keeps running. */
		ODO_LOG(WARN, "store", "%s record not stored: %s", odo_record_kind_name(r->kind), odo_strerror(rc));
	} else {
		a->records++;
	}
	emit_line(a, r);
	if (a->uplink)
		odo_uplink_kick(a->uplink);
	return rc;
}

/* Trip identity and checkpoints live in the outbox (engine.h). */
static int trip_next_id(void *ctx, uint64_t *id)
{
	return odo_store_trip_next_id(ctx, id);
}

static int trip_checkpoint(void *ctx, const struct odo_record *r)
{
	return odo_store_trip_checkpoint(ctx, r);
}

static int trip_recover(void *ctx, struct odo_record *r)
{
	return odo_store_trip_recover(ctx, r);
}

/* The pipeline's own timers, a source like the others: engine ticks and
 * the recording's flush. */
static int64_t pipeline_deadline(void *self)
{
	struct agent *a = self;
	return a->recorder && a->next_flush_ns < a->next_engine_ns ? a->next_flush_ns : a->next_engine_ns;
}

static void pipeline_tick(void *self)
{
	struct agent *a = self;
	int64_t now = odo_clock_mono_ns(&a->pipe_clock);

	if (now >= a->next_engine_ns) {
		odo_engine_tick(a->engine);
		a->next_engine_ns = now + AGENT_ENGINE_TICK_NS;
	}
	if (a->recorder && now >= a->next_flush_ns) {
		if (odo_recorder_flush(a->recorder) != ODO_OK)
			ODO_LOG(WARN, "record", "cannot write the recording: %s", strerror(errno));
		a->next_flush_ns = now + ODO_NS_PER_S;
	}
}

static const struct odo_source_ops pipeline_ops = {
	.name = "pipeline",
	.deadline = pipeline_deadline,
	.tick = pipeline_tick,
};

/* ---- signals ----------------------------------------------------------- */

int agent_signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void signals_read(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			a->reload = 1;
		else
			a->stop = 1;
	}
}

static void service_signals(struct agent *a)
{
	if (a->loop.extra_ready)
		signals_read(a);
	if (a->reload) {
		a->reload = 0;
		reload(a);
	}
}

/* ---- wiring ------------------------------------------------------------ */

/* Sources in replay mode, fed by the replay (added to the loop last). */
static int open_replay(struct agent *a, const char *dir)
{
	int rc = odo_gps_open(NULL, &a->pipe_clock, &a->sink, &a->gps);
	if (rc == ODO_OK)
		rc = odo_vbus_open_replay(&a->conf.can, &a->pipe_clock, &a->sink, &a->vbus);
	if (rc == ODO_OK)
		rc = odo_accel_open_replay(&a->pipe_clock, &a->sink, &a->accel);
	if (rc == ODO_OK)
		rc = odo_phone_open(NULL, &a->pipe_clock, &a->sink, &a->phone);
	if (rc == ODO_OK) {
		struct odo_replay_targets t = {.gps = a->gps, .vbus = a->vbus, .accel = a->accel, .phone = a->phone};
		rc = odo_replay_open(dir, &a->pipe_clock, &t, &a->replay);
	}
	if (rc != ODO_OK)
		ODO_LOG(ERROR, "replay", "cannot replay %s: %s", dir, odo_strerror(rc));
	return rc;
}

/* Live sources, as configured; the recorder taps them. */
static int open_live(struct agent *a, const char *record_dir)
{
	int rc;

	if (a->conf.agent.gps && (rc = odo_gps_open(&a->conf.gps, &a->pipe_clock, &a->sink, &a->gps)) != ODO_OK)
		return rc;
	if (a->conf.can.enabled && (rc = odo_vbus_open(&a->conf.can, &a->pipe_clock, &a->sink, &a->vbus)) != ODO_OK) {
		ODO_LOG(ERROR, "can", "cannot open %s: %s", a->conf.can.interface, odo_strerror(rc));
		return rc;
	}
	/* An accelerometer not there (yet) is waited for (accel.h); meanwhile
	 * braking and acceleration come from the derivative of GPS/OBD speed
	 * (docs/detection.md). */
	if (a->conf.agent.accel &&
	    (rc = odo_accel_open_live(&a->conf.accel, &a->pipe_clock, &a->sink, &a->accel)) != ODO_OK)
		return rc;
	if (a->conf.agent.phone && (rc = odo_phone_open(&a->conf.phone, &a->pipe_clock, &a->sink, &a->phone)) != ODO_OK) {
		ODO_LOG(ERROR, "phone", "cannot open the phone socket: %s", odo_strerror(rc));
		return rc;
	}
	if (!record_dir)
		return ODO_OK;
	struct odo_recording_meta meta;
	memset(&meta, 0, sizeof(meta));
	meta.start_real_ns = odo_clock_real_ns(&a->pipe_clock);
	snprintf(meta.device_id, sizeof(meta.device_id), "%s", a->conf.agent.device_id);
	if (a->accel)
		snprintf(meta.accel_chip, sizeof(meta.accel_chip), "%s", odo_accel_chip_name(a->accel));
	rc = odo_recorder_open(record_dir, &meta, &a->recorder);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, "record", "cannot record into %s: %s", record_dir, odo_strerror(rc));
		return rc;
	}
	odo_gps_set_recorder(a->gps, odo_recorder_file(a->recorder, ODO_RSTREAM_GPS));
	odo_vbus_set_recorder(a->vbus, odo_recorder_file(a->recorder, ODO_RSTREAM_CAN));
	odo_accel_set_recorder(a->accel, odo_recorder_file(a->recorder, ODO_RSTREAM_ACCEL));
	odo_phone_set_recorder(a->phone, odo_recorder_file(a->recorder, ODO_RSTREAM_PHONE));
	return ODO_OK;
}

/* Everything, in the loop in the order an instant runs it: the inputs
 * (gps, can, accel, phone: the order of a recording's streams), the
 * pipeline's timers, the status record (live), the replay (last), and the
 * uplink on the system clock. */
int agent_open(struct agent *a, const char *replay_dir, const char *record_dir, int no_uplink, int with_state)
{
	char path[ODO_AGENT_PATH_MAX + 32];
	int rc;

	odo_clock_init_system(&a->sys_clock);
	if (replay_dir) {
		/* REAL is the recording's (odo_replay_open); MONO starts at 1 s,
		 * not 0, which several parts read as "never" */
		odo_clock_init_virtual(&a->pipe_clock, 0, ODO_NS_PER_S);
		odo_loop_init(&a->loop, &a->pipe_clock, ODO_LOOP_REPLAY);
	} else {
		odo_loop_init(&a->loop, &a->pipe_clock, ODO_LOOP_LIVE);
	}
	odo_loop_set_extra_fd(&a->loop, a->sigfd);

	char why[512];
	rc = odo_store_open_why(&a->conf.store, &a->sys_clock, &a->store, why, sizeof why);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, "store", "cannot open the outbox %s: %s", a->conf.store.path, why);
		return rc;
	}
	struct odo_store_stats ss;
	if (odo_store_stats(a->store, &ss) == ODO_OK && ss.key_id) {
		ODO_LOG(INFO, "store", "outbox %s: records sealed with AES-256-GCM, key id %08" PRIx32 " ([store] key_file)",
			a->conf.store.path, ss.key_id);
		if (ss.old_key_at_open)
			ODO_LOG(WARN, "store",
				"%" PRIu64 " record(s) sealed with [store] old_key_file's key wait to be sent; keep that "
				"file until this count is 0 at a start",
				ss.old_key_at_open);
		if (ss.resealed_at_open)
			ODO_LOG(INFO, "store", "%" PRIu64 " record(s) stored in plaintext before key_file was set: sealed in place",
				ss.resealed_at_open);
		if (ss.plain_at_open > ss.resealed_at_open)
			ODO_LOG(WARN, "store",
				"%" PRIu64 " record(s) from before key_file was set could not be sealed in place: stored in "
				"plaintext until acknowledged",
				ss.plain_at_open - ss.resealed_at_open);
	} else if (a->conf.store.key_file[0] == '\0') {
		ODO_LOG(INFO, "store", "outbox %s: records stored in plaintext (no [store] key_file)", a->conf.store.path);
	}
	/* A replay starts from nothing and saves nothing: the gateway's learnt
	 * mount in [agent] state_dir is not its business, unless --with-state. */
	const int use_state = !replay_dir || with_state;
	if (use_state && a->conf.agent.state_dir[0] && mkdir(a->conf.agent.state_dir, 0750) != 0 && errno != EEXIST)
		ODO_LOG(WARN, "agent", "cannot create state_dir %s: %s", a->conf.agent.state_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/calibration", a->conf.agent.state_dir);
	if (replay_dir)
		ODO_LOG(INFO, "replay", "%s", use_state ? "with the calibration state of [agent] state_dir (--with-state)"
							: "a fresh calibration, nothing saved ([agent] state_dir untouched)");
	rc = odo_engine_open(&a->conf.engine, &a->pipe_clock, &a->conf.tz, put_record, a, use_state ? path : NULL,
			     &a->engine);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, "engine", "cannot start the engine: %s", odo_strerror(rc));
		return rc;
	}
	a->sink = odo_engine_sink(a->engine);
	struct odo_engine_trip_store ts = {
		.ctx = a->store, .next_id = trip_next_id, .checkpoint = trip_checkpoint, .recover = trip_recover};
	(void)odo_engine_set_trip_store(a->engine, &ts);

	if (a->conf.agent.uplink && !no_uplink) {
		rc = odo_uplink_open(&a->conf.uplink, &a->sys_clock, a->store, &a->uplink);
		if (rc != ODO_OK) {
			ODO_LOG(ERROR, "uplink", "cannot start the uplink: %s", odo_strerror(rc));
			return rc;
		}
	}
	rc = replay_dir ? open_replay(a, replay_dir) : open_live(a, record_dir);
	if (rc != ODO_OK)
		return rc;

	a->start_mono_ns = odo_clock_mono_ns(&a->pipe_clock);
	a->next_engine_ns = a->start_mono_ns + AGENT_ENGINE_TICK_NS;
	a->next_flush_ns = a->start_mono_ns + ODO_NS_PER_S;
	rc = ODO_OK;
	if (a->gps)
		rc |= odo_loop_add(&a->loop, odo_gps_source(a->gps));
	if (a->vbus)
		rc |= odo_loop_add(&a->loop, odo_vbus_source(a->vbus));
	if (a->accel)
		rc |= odo_loop_add(&a->loop, odo_accel_source(a->accel));
	if (a->phone)
		rc |= odo_loop_add(&a->loop, odo_phone_source(a->phone));
	rc |= odo_loop_add(&a->loop, (struct odo_source){.ops = &pipeline_ops, .self = a});
	if (!replay_dir) {
		struct odo_status_parts parts = {.store = a->store,
						 .uplink = a->uplink,
						 .gps = a->gps,
						 .vbus = a->vbus,
						 .accel = a->accel,
						 .engine = a->engine};
		if (odo_status_open(&parts, &a->pipe_clock, a->conf.agent.status_period_s, put_record, a, &a->status) !=
		    ODO_OK)
			return ODO_ERR_NOMEM;
		rc |= odo_loop_add(&a->loop, odo_status_source(a->status));
	} else {
		rc |= odo_loop_add(&a->loop, odo_replay_source(a->replay));
	}
	if (a->uplink)
		rc |= odo_loop_add_on(&a->loop, odo_uplink_source(a->uplink), &a->sys_clock);
	return rc == ODO_OK ? ODO_OK : ODO_ERR_FULL;
}

void agent_close(struct agent *a)
{
	odo_status_close(a->status);
	odo_replay_close(a->replay);
	odo_recorder_close(a->recorder);
	odo_uplink_close(a->uplink);
	odo_phone_close(a->phone);
	odo_accel_close(a->accel);
	odo_vbus_close(a->vbus);
	odo_gps_close(a->gps);
	odo_engine_close(a->engine);
	odo_store_close(a->store);
	if (a->emit)
		fclose(a->emit);
}

/* Keep the uplink going (on the system clock) until the outbox is empty,
 * the deadline passes, or a second signal comes; only the uplink runs (the
 * engine has finished: no source may start a new trip now). Returns 1 when
 * everything was acknowledged. */
static int drain(struct agent *a, double seconds)
{
	int64_t deadline = odo_clock_mono_ns(&a->sys_clock) + (int64_t)(seconds * (double)ODO_NS_PER_S);
	struct odo_loop l;
	int rc;

	if (!a->uplink)
		return 0;
	odo_loop_init(&l, &a->sys_clock, ODO_LOOP_SYSTEM);
	odo_loop_set_extra_fd(&l, a->sigfd);
	if (odo_loop_add(&l, odo_uplink_source(a->uplink)) != ODO_OK)
		return 0;
	a->stop = 0;
	while ((rc = odo_uplink_flush(a->uplink, deadline)) == ODO_ERR_AGAIN && !a->stop) {
		if (odo_loop_once(&l, 100 * ODO_NS_PER_MS) != ODO_OK)
			break;
		if (l.extra_ready)
			signals_read(a);
	}
	return rc == ODO_OK;
}

/* The one loop, live or replaying, until a signal or the recording's end;
 * then the trip ends and what the link allows is sent. */
int agent_run(struct agent *a, double drain_s)
{
	struct odo_replay_stats rs;
	uint64_t items = 0;

	if (!a->replay)
		ODO_LOG(INFO, "agent", "running as %s", a->conf.agent.device_id);
	while (!a->stop && !(a->replay && odo_replay_done(a->replay))) {
		if (odo_loop_once(&a->loop, ODO_NS_PER_S) != ODO_OK) {
			ODO_LOG(ERROR, "agent", "poll failed: %s", strerror(errno));
			break;
		}
		service_signals(a);
	}
	if (!a->replay)
		ODO_LOG(INFO, "agent", "stopping: ending the trip, flushing for up to %.0f s", a->conf.agent.shutdown_grace_s);
	odo_engine_finish(a->engine);
	/* the instant the trip ended: a replay of this recording ends there too */
	if (a->recorder && odo_recorder_end(a->recorder, odo_clock_real_ns(&a->pipe_clock)) != ODO_OK)
		ODO_LOG(WARN, "record", "cannot write the recording's end: %s", strerror(errno));
	if (!a->replay) {
		if (a->uplink && !drain(a, a->conf.agent.shutdown_grace_s))
			ODO_LOG(INFO, "agent", "records left in the outbox for the next run");
		return 0;
	}
	odo_replay_stats(a->replay, &rs);
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		items += rs.items[i];
	ODO_LOG(INFO, "replay", "replayed %" PRIu64 " items; %" PRIu64 " records (%" PRIu64 " not stored)", items,
		a->records, a->record_errors);
	if (a->uplink && drain_s > 0) {
		if (drain(a, drain_s)) {
			ODO_LOG(INFO, "uplink", "every record acknowledged by the collector");
		} else {
			ODO_LOG(WARN, "uplink", "records still unacknowledged after %.0f s; they stay in the outbox", drain_s);
			return 3;
		}
	}
	return a->record_errors ? 4 : 0;
}
