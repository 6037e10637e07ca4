/* odo-agent CAN — vehicle signals from broadcast frames, described by a DBC
 * file and given their roles ([can] airbag_deployed, crash_detected, wipers,
 * seatbelt_driver, vehicle_speed = MESSAGE.SIGNAL). */
#include <string.h>

#include "can/vbus_int.h"
#include "odo/log.h"

int roles__open(struct odo_vbus *vb)
{
	const char *spec[ODO_SIG__COUNT] = {
		[ODO_SIG_AIRBAG_DEPLOYED] = vb->cfg->role_airbag_deployed,
		[ODO_SIG_CRASH_DETECTED] = vb->cfg->role_crash_detected,
		[ODO_SIG_WIPERS] = vb->cfg->role_wipers,
		[ODO_SIG_SEATBELT_DRIVER] = vb->cfg->role_seatbelt_driver,
		[ODO_SIG_VEHICLE_SPEED] = vb->cfg->role_vehicle_speed,
	};
	int any = 0;
	for (int r = 0; r < ODO_SIG__COUNT; r++)
		any |= spec[r][0] != '\0';
	if (!vb->cfg->dbc[0]) {
		if (any) {
			ODO_LOG(ERROR, VBUS_AREA, "[can] signal roles are set but no dbc file");
			return ODO_ERR_CONFIG;
		}
		return ODO_OK;
	}
	int line = 0;
	int rc = odo_dbc_load(vb->cfg->dbc, &vb->dbc, &line);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, VBUS_AREA, "DBC %s: %s (line %d)", vb->cfg->dbc, odo_strerror(rc), line);
		return ODO_ERR_CONFIG;
	}
	for (int r = 0; r < ODO_SIG__COUNT; r++) {
		if (!spec[r][0])
			continue;
		char buf[ODO_CAN_ROLE_MAX];
		snprintf(buf, sizeof buf, "%s", spec[r]);
		char *dot = strchr(buf, '.');
		if (!dot) {
			ODO_LOG(ERROR, VBUS_AREA, "[can] role '%s' is not MESSAGE.SIGNAL", spec[r]);
			return ODO_ERR_CONFIG;
		}
		*dot = '\0';
		const struct odo_dbc_msg *m = odo_dbc_find_msg(vb->dbc, buf);
		const struct odo_dbc_signal *s = odo_dbc_find_signal(m, dot + 1);
		if (!s) {
			ODO_LOG(ERROR, VBUS_AREA, "[can] role signal '%s' not in %s", spec[r], vb->cfg->dbc);
			return ODO_ERR_CONFIG;
		}
		vb->roles[r].id = m->id;
		vb->roles[r].sig = s;
		vb->roles[r].scale = 1.0;
		if (r == ODO_SIG_VEHICLE_SPEED) {
			if (strcmp(s->unit, "km/h") == 0 || strcmp(s->unit, "kph") == 0)
				vb->roles[r].scale = 1 / 3.6;
			else if (strcmp(s->unit, "mph") == 0)
				vb->roles[r].scale = 0.44704;
		}
	}
	return ODO_OK;
}

void roles__frame(struct odo_vbus *vb, const struct can_frame *f)
{
	for (int r = 0; r < ODO_SIG__COUNT; r++) {
		struct role *ro = &vb->roles[r];
		if (!ro->sig || ro->id != f->can_id)
			continue;
		double v;
		if (odo_dbc_decode(ro->sig, f->data, f->can_dlc, &v) != ODO_OK) {
			vbus__malformed(vb, f->can_id, "frame too short for the DBC signal", f->data, f->can_dlc);
			continue;
		}
		v *= ro->scale;
		/* states are reported on change; speed on every frame */
		if (r != ODO_SIG_VEHICLE_SPEED && ro->have_last && ro->last == v)
			continue;
		ro->have_last = 1;
		ro->last = v;
		if (r == ODO_SIG_AIRBAG_DEPLOYED || r == ODO_SIG_CRASH_DETECTED)
			ODO_LOG(INFO, VBUS_AREA, "%s.%s = %g", odo_dbc_find_id(vb->dbc, ro->id)->name, ro->sig->name, v);
		vbus__deliver_signal(vb, r, v);
	}
}
