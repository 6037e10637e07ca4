/* odo-agent — its configuration (see conf.h). */
#include "conf.h"

#include <stdio.h>
#include <string.h>

const char *const odo_agent_log_levels[] = {"error", "warn", "info", "debug", NULL};

static const struct odo_cfg_key agent_keys[] = {
	{.key = "device_id", .type = ODO_CFG_STR, .offset = offsetof(struct odo_agent_cfg, device_id),
	 .size = sizeof(((struct odo_agent_cfg *)0)->device_id), .required = 1, .min = 1, .max = 0,
	 .help = "this gateway's id ([A-Za-z0-9._-], the CN of its certificate)"},
	ODO_CFG_S("state_dir", struct odo_agent_cfg, state_dir, "/var/lib/odo",
		  "directory for persistent state (calibration); the outbox path is [store] path"),
	ODO_CFG_S("timezone", struct odo_agent_cfg, timezone, "UTC",
		  "IANA time zone of the vehicle's region, for rush-hour and late-night features"),
	{.key = "log_level", .type = ODO_CFG_ENUM, .offset = offsetof(struct odo_agent_cfg, log_level), .def = "info",
	 .choices = odo_agent_log_levels, .min = 1, .max = 0, .help = "error, warn, info or debug", .reloadable = 1},
	{.key = "log_file", .type = ODO_CFG_STR, .offset = offsetof(struct odo_agent_cfg, log_file),
	 .size = sizeof(((struct odo_agent_cfg *)0)->log_file), .def = "", .min = 1, .max = 0,
	 .help = "append logs to this file instead of stderr (reopened on SIGHUP)", .reloadable = 1},
	ODO_CFG_D("status_period_s", struct odo_agent_cfg, status_period_s, "60", 1, 86400,
		  "period of the device-status record"),
	ODO_CFG_D("shutdown_grace_s", struct odo_agent_cfg, shutdown_grace_s, "10", 0, 3600,
		  "on SIGTERM, keep sending the backlog this long before exiting"),
	ODO_CFG_B("gps", struct odo_agent_cfg, gps, "true", "read GPS from gpsd ([gps])"),
	ODO_CFG_B("accel", struct odo_agent_cfg, accel, "true", "read the I2C accelerometer ([accel])"),
	ODO_CFG_B("phone", struct odo_agent_cfg, phone, "true", "listen for the companion phone ([phone])"),
	ODO_CFG_B("uplink", struct odo_agent_cfg, uplink, "true", "send records to the broker ([uplink])"),
};

static void add_section(struct odo_agent_conf *c, const char *name, const struct odo_cfg_key *keys, size_t n,
			void *dest)
{
	if (c->nsecs >= ODO_AGENT_MAX_SECTIONS)
		return;
	c->secs[c->nsecs++] = (struct odo_cfg_section){.name = name, .keys = keys, .nkeys = n, .dest = dest};
}

void odo_agent_conf_sections(struct odo_agent_conf *c)
{
	c->nsecs = 0;
	add_section(c, "agent", agent_keys, ODO_ARRAY_LEN(agent_keys), &c->agent);
	add_section(c, "gps", odo_gps_cfg_keys, odo_gps_cfg_nkeys, &c->gps);
	add_section(c, "can", odo_can_cfg_keys, odo_can_cfg_nkeys, &c->can);
	add_section(c, "accel", odo_accel_cfg_keys, odo_accel_cfg_nkeys, &c->accel);
	add_section(c, "phone", odo_phone_cfg_keys, odo_phone_cfg_nkeys, &c->phone);
	odo_engine_cfg_sections(&c->engine, &c->secs[c->nsecs]);
	c->nsecs += ODO_ENGINE_CFG_NSECTIONS;
	add_section(c, "store", odo_store_cfg_keys, odo_store_cfg_nkeys, &c->store);
	add_section(c, "uplink", odo_uplink_cfg_keys, odo_uplink_cfg_nkeys, &c->uplink);
}

int odo_agent_conf_load(struct odo_agent_conf *c, const char *const *sets, int nsets, char *why,
			size_t whysz)
{
	struct odo_cfg_error err;
	int rc;

	odo_agent_conf_sections(c);
	if (c->path[0])
		rc = odo_config_parse_file(c->path, c->secs, c->nsecs, &err);
	else
		rc = odo_config_defaults(c->secs, c->nsecs, &err);
	for (int i = 0; rc == ODO_OK && i < nsets; i++)
		rc = odo_config_set_arg(c->secs, c->nsecs, sets[i], &err);
	if (rc != ODO_OK) {
		snprintf(why, whysz, "%s", err.msg);
		return ODO_ERR_CONFIG;
	}
	if (!c->path[0] && !c->agent.device_id[0]) {
		snprintf(why, whysz, "no configuration: give --config FILE (or --set agent.device_id=...)");
		return ODO_ERR_CONFIG;
	}
	if (odo_detect_cfg_check(&c->engine.detect, why, whysz) != ODO_OK)
		return ODO_ERR_CONFIG;
	if (strcmp(c->agent.device_id, ODO_AGENT_PLACEHOLDER_ID) == 0) {
		snprintf(why, whysz, "[agent] device_id is still the placeholder '%s' of the shipped configuration: set it"
				     " to the CN of this gateway's certificate", ODO_AGENT_PLACEHOLDER_ID);
		return ODO_ERR_CONFIG;
	}
	if (!odo_wire_device_id_valid(c->agent.device_id)) {
		snprintf(why, whysz, "[agent] device_id '%s' is not a valid device id "
				"(1-64 of A-Z a-z 0-9 . _ -)", c->agent.device_id);
		return ODO_ERR_CONFIG;
	}
	if (!c->uplink.device_id[0]) {
		snprintf(c->uplink.device_id, sizeof(c->uplink.device_id), "%s", c->agent.device_id);
	} else if (strcmp(c->uplink.device_id, c->agent.device_id) != 0) {
		snprintf(why, whysz, "[uplink] device_id '%s' differs from [agent] device_id '%s'",
			c->uplink.device_id, c->agent.device_id);
		return ODO_ERR_CONFIG;
	}
	rc = odo_tz_load(&c->tz, c->agent.timezone, NULL);
	if (rc != ODO_OK) {
		snprintf(why, whysz, "[agent] timezone '%s': %s", c->agent.timezone, odo_strerror(rc));
		return ODO_ERR_CONFIG;
	}
	return ODO_OK;
}

int odo_agent_conf_reread(const struct odo_agent_conf *cur, struct odo_agent_conf *fresh, char *why,
			  size_t whysz)
{
	struct odo_cfg_error err;

	memset(fresh, 0, sizeof(*fresh));
	if (!cur->path[0])
		return ODO_ERR_NOTFOUND;
	snprintf(fresh->path, sizeof(fresh->path), "%s", cur->path);
	odo_agent_conf_sections(fresh);
	int rc = odo_config_parse_file(fresh->path, fresh->secs, fresh->nsecs, &err);
	if (rc != ODO_OK) {
		snprintf(why, whysz, "%s", err.msg);
		return rc;
	}
	if (!fresh->uplink.device_id[0])
		memcpy(fresh->uplink.device_id, cur->uplink.device_id, sizeof(fresh->uplink.device_id));
	return ODO_OK;
}
