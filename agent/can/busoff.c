/* odo-agent CAN — the controller: its state and bitrate, bus-off episodes
 * and restarting it with a backoff (real CAN controllers; vcan has none). */
#include <libsocketcan.h>
#include <string.h>
#include <unistd.h>

#include "can/vbus_int.h"
#include "odo/log.h"

#define ODO_CAN_BITRATE_UNKNOWN 0xFFFFFFFFu /* the kernel's CAN_BITRATE_UNKNOWN */

static const char *state_name(int st)
{
	switch (st) {
	case CAN_STATE_ERROR_ACTIVE:
		return "ERROR-ACTIVE";
	case CAN_STATE_ERROR_WARNING:
		return "ERROR-WARNING";
	case CAN_STATE_ERROR_PASSIVE:
		return "ERROR-PASSIVE";
	case CAN_STATE_BUS_OFF:
		return "BUS-OFF";
	case CAN_STATE_STOPPED:
		return "STOPPED";
	case CAN_STATE_SLEEPING:
		return "SLEEPING";
	default:
		return "unknown";
	}
}

/* Interface down and up again: the driver's open re-initialises the
 * controller and open_candev() switches the carrier back on. Resumable: a
 * failed "up" is retried by the next state check. */
static int bus_reopen(struct odo_vbus *vb)
{
	const char *ifn = vb->cfg->interface;
	if (!vb->down_by_us) {
		if (can_do_stop(ifn) != 0)
			return -1;
		vb->down_by_us = 1;
	}
	if (can_do_start(ifn) != 0)
		return -1;
	vb->down_by_us = 0;
	return 0;
}

/* Whether the interface sits on a controller device (SPI, USB, platform):
 * /sys/class/net/IF/device. A line-discipline adapter such as slcan has
 * none. */
static int has_controller_device(const char *ifn)
{
	char path[128];
	snprintf(path, sizeof path, "/sys/class/net/%s/device", ifn);
	return access(path, F_OK) == 0;
}

#define RESTART_GAP_MIN_NS (1000LL * ODO_NS_PER_MS)  /* first restart after another */
#define RESTART_GAP_MAX_NS (60000LL * ODO_NS_PER_MS) /* a bus that keeps failing */
#define RESTART_CALM_NS    (10000LL * ODO_NS_PER_MS) /* bus-off again sooner: double the gap */

/*
 * Restart a bus-off controller. can_do_restart() (netlink IFLA_CAN_RESTART)
 * is the kernel's way, but it needs the driver's restart callback
 * (can_priv::do_set_mode): drivers without one, slcan among them, refuse it
 * with EOPNOTSUPP "Device doesn't support restart from Bus Off" -- on kernels
 * that have that check (upstream c1f3f9797c1f; Debian 12's 6.1 has it);
 * older ones follow the NULL pointer. So an interface without a controller
 * device (slcan) is never sent IFLA_CAN_RESTART: it is taken down and up,
 * as an operator would. Any refusal of can_do_restart() takes that way too:
 * libsocketcan reports the kernel's answer only on stderr ("RTNETLINK
 * answers: ..."), and its errno does not survive its perror() (glibc's
 * perror() may reset it when stderr has not been written through stdio, as
 * ODO_LOG does not). A bus that goes off again within RESTART_CALM_NS of a
 * restart waits twice as long for the next one (1 s up to 60 s): a wrong
 * bitrate or a shorted bus must not become a restart storm.
 */
static void bus_restart(struct odo_vbus *vb)
{
	const char *ifn = vb->cfg->interface;
	uint32_t restart_ms = 0;
	if (can_get_restart_ms(ifn, &restart_ms) == 0 && restart_ms > 0) {
		if (!vb->kernel_restarts_said) {
			vb->kernel_restarts_said = 1;
			ODO_LOG(INFO, VBUS_AREA, "%s: the kernel restarts it (restart-ms %u)", ifn, (unsigned)restart_ms);
		}
		return;
	}
	int64_t now = vbus__now(vb);
	if (now < vb->restart_next_ns)
		return; /* the next state check tries again */
	const char *how = "can_do_restart";
	int netlink = !vb->down_by_us && has_controller_device(ifn);
	int ok = netlink && can_do_restart(ifn) == 0;
	if (!ok) {
		how = "interface down and up";
		if (vb->restart_failures == 0)
			ODO_LOG(INFO, VBUS_AREA, "%s: %s; taking the interface down and up", ifn,
			        netlink ? "can_do_restart refused (drivers without a bus-off restart answer "
			                  "EOPNOTSUPP)"
			                : "no controller device behind it (a line-discipline adapter such as slcan): "
			                  "no IFLA_CAN_RESTART");
		ok = bus_reopen(vb) == 0;
	}
	if (!ok) {
		vb->restart_failures++;
		if (vbus__worth_logging(vb->restart_failures))
			ODO_LOG(
			    WARN, VBUS_AREA,
			    "%s: restart failed, interface %s (%llu failures; the kernel's reason is in the "
			    "RTNETLINK line before; restarts need CAP_NET_ADMIN)",
			    ifn, vb->down_by_us ? "left down, retried" : "not taken down",
			    (unsigned long long)vb->restart_failures);
		return;
	}
	vb->restart_gap_ns = vb->last_restart_ns && now - vb->last_restart_ns < RESTART_CALM_NS
	                         ? (vb->restart_gap_ns * 2 > RESTART_GAP_MAX_NS ? RESTART_GAP_MAX_NS
	                                                                        : vb->restart_gap_ns * 2)
	                         : RESTART_GAP_MIN_NS;
	vb->last_restart_ns = now;
	vb->restart_next_ns = now + vb->restart_gap_ns;
	vb->ct.restarts++;
	int st = -1;
	(void)can_get_state(ifn, &st);
	if (st != CAN_STATE_BUS_OFF)
		vb->in_bus_off = 0;
	ODO_LOG(INFO, VBUS_AREA, "%s: controller restarted (%s), state %s; next restart no sooner than %lld ms", ifn,
	        how, state_name(st), (long long)(vb->restart_gap_ns / ODO_NS_PER_MS));
}

/* Called every state_period_s, on bus-off and restarted error frames. A
 * bus-off episode is counted once however often it is seen; while it lasts
 * the restart is retried at each check. */
void busoff__check(struct odo_vbus *vb, int busoff_frame)
{
	if (!vb->live)
		return;
	const char *ifn = vb->cfg->interface;
	int st = -1;
	if (vb->down_by_us) { /* our restart took it down but could not bring it up */
		bus_restart(vb);
		return;
	}
	if (can_get_state(ifn, &st) != 0) {
		if (vb->state_ok)
			ODO_LOG(INFO, VBUS_AREA, "%s: controller state not available (virtual interface?)", ifn);
		vb->state_ok = 0;
		return;
	}
	vb->state_ok = 1;
	int off = st == CAN_STATE_BUS_OFF;
	if ((off || busoff_frame) && !vb->in_bus_off) {
		vb->in_bus_off = 1;
		vb->restart_failures = 0;
		vb->ct.bus_off++;
		vb->st.errors++;
		ODO_LOG(WARN, VBUS_AREA, "%s: bus-off (%llu times), state %s%s", ifn,
		        (unsigned long long)vb->ct.bus_off, state_name(st),
		        vb->cfg->restart_bus_off ? "" : "; restart_bus_off = false: not restarting it");
	}
	if (!off) {
		if (vb->in_bus_off && !busoff_frame) {
			vb->in_bus_off = 0;
			ODO_LOG(INFO, VBUS_AREA, "%s: out of bus-off, state %s", ifn, state_name(st));
		}
		return;
	}
	if (vb->cfg->restart_bus_off)
		bus_restart(vb);
}

void busoff__open(struct odo_vbus *vb)
{
	/* Controller state and bitrate: real CAN controllers only (not vcan). */
	struct can_bittiming bt;
	int st;
	if (can_get_state(vb->cfg->interface, &st) == 0) {
		vb->state_ok = 1;
		vb->state_due = vbus__now(vb);
		/* A bitrate the adapter chose itself (slcan brought up without one)
		 * reads as CAN_BITRATE_UNKNOWN: nothing to compare. */
		if (can_get_bittiming(vb->cfg->interface, &bt) != 0 || bt.bitrate == 0 ||
		    bt.bitrate == ODO_CAN_BITRATE_UNKNOWN)
			ODO_LOG(INFO, VBUS_AREA, "%s: bitrate not known to the kernel (set by the adapter)%s",
			        vb->cfg->interface, vb->cfg->bitrate ? ", not checked" : "");
		else if (vb->cfg->bitrate && bt.bitrate != (uint32_t)vb->cfg->bitrate)
			ODO_LOG(WARN, VBUS_AREA, "%s: bitrate %u bit/s, expected %lld", vb->cfg->interface, bt.bitrate,
			        vb->cfg->bitrate);
		else
			ODO_LOG(INFO, VBUS_AREA, "%s: bitrate %u bit/s", vb->cfg->interface, bt.bitrate);
	} else {
		ODO_LOG(INFO, VBUS_AREA, "%s: no controller state (virtual interface); bus-off checks off", vb->cfg->interface);
	}
}
