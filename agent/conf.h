/*
 * odo-agent — its configuration: the [agent] section and every module's
 * section in one table (what docs/config.md is generated from), loaded from
 * the file with the --set overrides and the checks that span sections, and
 * re-read on SIGHUP. All storage is inside struct odo_agent_conf (large:
 * the time zone's tables; keep it static, not on the stack).
 */
#ifndef ODO_AGENT_CONF_H
#define ODO_AGENT_CONF_H

#include <stddef.h>

#include "accel/accel.h"
#include "can/vbus.h"
#include "engine/engine.h"
#include "gps/gps.h"
#include "odo/config.h"
#include "odo/ltime.h"
#include "odo/wire.h"
#include "phone/phone.h"
#include "store/store.h"
#include "uplink/uplink.h"

#define ODO_AGENT_PATH_MAX 256
/* The shipped configurations' device id: refused until it is replaced. */
#define ODO_AGENT_PLACEHOLDER_ID "unset-device"
#define ODO_AGENT_MAX_SECTIONS 24

/* Section [agent]. */
struct odo_agent_cfg {
	char device_id[ODO_DEVICE_ID_MAX + 1];
	char state_dir[ODO_AGENT_PATH_MAX];
	char timezone[ODO_TZ_NAME_MAX];
	int log_level; /* index into odo_agent_log_levels */
	char log_file[ODO_AGENT_PATH_MAX];
	double status_period_s;
	double shutdown_grace_s;
	int gps, accel, phone, uplink;
};

/* "error", "warn", "info", "debug", NULL: [agent] log_level's choices. */
extern const char *const odo_agent_log_levels[];

struct odo_agent_conf {
	char path[ODO_AGENT_PATH_MAX]; /* the file; "" = defaults and --set only */
	struct odo_agent_cfg agent;
	struct odo_gps_cfg gps;
	struct odo_can_cfg can;
	struct odo_accel_cfg accel;
	struct odo_phone_cfg phone;
	struct odo_engine_cfg engine;
	struct odo_store_cfg store;
	struct odo_uplink_cfg uplink;
	struct odo_cfg_section secs[ODO_AGENT_MAX_SECTIONS];
	size_t nsecs;
	struct odo_tz tz; /* [agent] timezone, loaded */
};

/* Describe every section of c (secs, nsecs), e.g. for
 * odo_config_print_reference(). */
void odo_agent_conf_sections(struct odo_agent_conf *c);

/*
 * Load c->path (only the defaults when it is ""), then the --set
 * overrides sets[0..nsets) (odo_config_set_arg), then what no single
 * section can check: a configuration at all, the detectors' thresholds,
 * the device id (not the placeholder), [uplink] device_id against [agent]'s,
 * the time zone.
 * Returns ODO_OK, or ODO_ERR_CONFIG with why (file:line where there is
 * one) set.
 */
int odo_agent_conf_load(struct odo_agent_conf *c, const char *const *sets, int nsets, char *why,
			size_t whysz) ODO_NODISCARD;

/*
 * SIGHUP: read cur->path again into fresh (its [uplink] device_id taken
 * from cur when the file leaves it to [agent]); nothing else is checked or
 * applied. ODO_OK; ODO_ERR_NOTFOUND when cur has no file; ODO_ERR_CONFIG
 * or ODO_ERR_IO with why set.
 */
int odo_agent_conf_reread(const struct odo_agent_conf *cur, struct odo_agent_conf *fresh, char *why,
			  size_t whysz) ODO_NODISCARD;

#endif
