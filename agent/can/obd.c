/* SAE J1979 service 01 formulas and J2012 DTC codes (see obd.h). */
#include "can/obd.h"

#include <math.h>
#include <string.h>

int odo_obd_pid_len(uint8_t pid)
{
	switch (pid) {
	case 0x00: case 0x20: case 0x40: case 0x60: case 0x80: case 0xA0: case 0xC0:
	case 0x01: case 0x41:
		return 4;
	case 0x04: case 0x05: case 0x06: case 0x07: case 0x0A: case 0x0B: case 0x0D:
	case 0x0E: case 0x0F: case 0x11: case 0x2C: case 0x2E: case 0x2F: case 0x30:
	case 0x33: case 0x45: case 0x46: case 0x47: case 0x49: case 0x4A: case 0x4C:
	case 0x13: case 0x1C: case 0x51:
		return 1;
	case 0x0C: case 0x10: case 0x1F: case 0x21: case 0x31: case 0x3C: case 0x3D:
	case 0x42: case 0x43: case 0x44: case 0x4D: case 0x4E: case 0x14: case 0x15:
	case 0x03:
		return 2;
	default:
		return 0;
	}
}

int odo_obd_decode_pid(uint8_t pid, const uint8_t *d, size_t len, double *value)
{
	int need = odo_obd_pid_len(pid);
	if (need == 0)
		return ODO_ERR_UNSUPPORTED;
	if (!d || (size_t)need != len)
		return ODO_ERR_PROTOCOL;
	double A = d[0], B = len > 1 ? d[1] : 0, AB = A * 256 + B;
	double v;
	switch (pid) {
	case 0x04: case 0x11: case 0x2C: case 0x2F: case 0x45: case 0x47: case 0x49:
	case 0x4A: case 0x4C: case 0x2E:
		v = A * 100.0 / 255.0; break; /* % */
	case 0x05: case 0x0F: case 0x46:
		v = A - 40; break;            /* degC */
	case 0x06: case 0x07:
		v = A * 100.0 / 128.0 - 100; break;
	case 0x0A:
		v = A * 3; break;             /* kPa */
	case 0x0B: case 0x33: case 0x30: case 0x13: case 0x1C: case 0x51:
		v = A; break;
	case 0x0C:
		v = AB / 4.0; break;          /* rpm */
	case 0x0D:
		v = A / 3.6; break;           /* km/h -> m/s */
	case 0x0E:
		v = A / 2.0 - 64; break;      /* deg before TDC */
	case 0x10:
		v = AB / 100.0; break;        /* g/s */
	case 0x1F: case 0x4D: case 0x4E:
		v = AB; break;                /* s (0x4D/4E: min) */
	case 0x21: case 0x31:
		v = AB * 1000.0; break;       /* km -> m */
	case 0x3C: case 0x3D:
		v = AB / 10.0 - 40; break;    /* degC */
	case 0x42:
		v = AB / 1000.0; break;       /* V */
	case 0x43:
		v = AB * 100.0 / 255.0; break;
	case 0x44:
		v = AB * 2.0 / 65536.0; break; /* ratio */
	case 0x14: case 0x15:
		v = A / 200.0; break;         /* V */
	default:
		return ODO_ERR_UNSUPPORTED;
	}
	*value = v;
	return ODO_OK;
}

static unsigned clampu(double x, unsigned max)
{
	if (!(x > 0))
		return 0;
	if (x >= max)
		return max;
	return (unsigned)lround(x);
}

int odo_obd_encode_pid(uint8_t pid, double v, uint8_t out[4])
{
	unsigned u;
	switch (pid) {
	case 0x04: case 0x11: case 0x2C: case 0x2F: case 0x45: case 0x47: case 0x49:
	case 0x4A: case 0x4C: case 0x2E:
		out[0] = (uint8_t)clampu(v * 255.0 / 100.0, 255); return 1;
	case 0x05: case 0x0F: case 0x46:
		out[0] = (uint8_t)clampu(v + 40, 255); return 1;
	case 0x0B: case 0x33: case 0x30:
		out[0] = (uint8_t)clampu(v, 255); return 1;
	case 0x0D:
		out[0] = (uint8_t)clampu(v * 3.6, 255); return 1;
	case 0x0C:
		u = clampu(v * 4, 65535); break;
	case 0x1F:
		u = clampu(v, 65535); break;
	case 0x21: case 0x31:
		u = clampu(v / 1000.0, 65535); break;
	case 0x42:
		u = clampu(v * 1000.0, 65535); break;
	default:
		return 0;
	}
	out[0] = (uint8_t)(u >> 8);
	out[1] = (uint8_t)u;
	return 2;
}

void odo_obd_supported(uint8_t base, const uint8_t d[4], uint8_t supported[ODO_OBD_MAX_PIDS])
{
	for (int i = 0; i < 32; i++)
		if (d[i / 8] & (0x80 >> (i % 8)))
			supported[(base + 1 + i) & 0xFF] = 1;
}

void odo_obd_dtc_str(uint8_t a, uint8_t b, char out[ODO_DTC_LEN + 1])
{
	static const char sys[] = "PCBU";
	static const char hx[] = "0123456789ABCDEF";
	out[0] = sys[a >> 6];
	out[1] = hx[(a >> 4) & 3];
	out[2] = hx[a & 15];
	out[3] = hx[b >> 4];
	out[4] = hx[b & 15];
	out[5] = '\0';
}

int odo_obd_dtc_parse(const char *s, uint8_t out[2])
{
	static const char sys[] = "PCBU";
	if (!s || strlen(s) != 5)
		return ODO_ERR_INVAL;
	const char *k = strchr(sys, s[0] & ~0x20);
	if (!k || s[0] == '\0')
		return ODO_ERR_INVAL;
	int v[4];
	for (int i = 0; i < 4; i++) {
		char c = s[1 + i];
		if (c >= '0' && c <= '9')
			v[i] = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v[i] = (c | 0x20) - 'a' + 10;
		else
			return ODO_ERR_INVAL;
	}
	if (v[0] > 3)
		return ODO_ERR_INVAL;
	out[0] = (uint8_t)((k - sys) << 6 | v[0] << 4 | v[1]);
	out[1] = (uint8_t)(v[2] << 4 | v[3]);
	return ODO_OK;
}

int odo_obd_decode_dtcs(const uint8_t *p, size_t len, char (*codes)[ODO_DTC_LEN + 1], int max)
{
	if (!p || len < 2)
		return -ODO_ERR_PROTOCOL;
	size_t count = p[1];
	if (len < 2 + 2 * count)
		return -ODO_ERR_PROTOCOL;
	int n = 0;
	for (size_t i = 0; i < count; i++) {
		uint8_t a = p[2 + 2 * i], b = p[3 + 2 * i];
		if (a == 0 && b == 0)
			continue;
		if (n < max)
			odo_obd_dtc_str(a, b, codes[n]);
		n++;
	}
	return n < max ? n : max;
}
