/*
 * devsim — one device's MQTT connection for the collector's lifecycle tests:
 * publishes the files it is told to on odo/v1/<device>/up and prints every
 * ack it receives, over ONE connection (the broker makes the certificate's
 * CN the client id, so a second connection as the same device would take
 * the first one over).
 *
 *   devsim --port P --pki DIR --device D
 *   stdin:  "pub FILE" (publish the file's bytes, QoS 1) | "quit"
 *   stdout: "ready" once subscribed, "puback" per publish confirmed by the
 *           broker, "ack HEX" per message on odo/v1/D/ack (the CBOR payload)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#define DEVSIM_PATH 512
#define DEVSIM_MSG (512 * 1024)

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	(void)flags, (void)p;
	const char *dev = obj;
	if (rc) {
		fprintf(stderr, "devsim %s: connection refused: %s\n", dev, mosquitto_reason_string(rc));
		exit(1);
	}
	char t[128];
	snprintf(t, sizeof t, "odo/v1/%s/ack", dev);
	mosquitto_subscribe_v5(m, NULL, t, 1, 0, NULL);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q, const mosquitto_property *p)
{
	(void)m, (void)obj, (void)mid, (void)n, (void)q, (void)p;
	printf("ready\n");
	fflush(stdout);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *p)
{
	(void)m, (void)obj, (void)mid, (void)p;
	printf("puback %d\n", rc);
	fflush(stdout);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg, const mosquitto_property *p)
{
	(void)m, (void)obj, (void)p;
	printf("ack ");
	for (int i = 0; i < msg->payloadlen; i++)
		printf("%02x", ((const unsigned char *)msg->payload)[i]);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "port", 1, NULL, 'p' }, { "pki", 1, NULL, 'k' },
					    { "device", 1, NULL, 'd' }, { NULL, 0, NULL, 0 } };
	const char *pki = NULL, *dev = NULL;
	int port = 0, o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p': port = atoi(optarg); break;
		case 'k': pki = optarg; break;
		case 'd': dev = optarg; break;
		default: return 2;
		}
	}
	if (!pki || !dev || !port) {
		fprintf(stderr, "usage: devsim --port P --pki DIR --device D\n");
		return 2;
	}
	char ca[DEVSIM_PATH], crt[DEVSIM_PATH], key[DEVSIM_PATH], topic[128];
	snprintf(ca, sizeof ca, "%s/ca.crt", pki);
	snprintf(crt, sizeof crt, "%s/devices/%s.crt", pki, dev);
	snprintf(key, sizeof key, "%s/devices/%s.key", pki, dev);
	snprintf(topic, sizeof topic, "odo/v1/%s/up", dev);
	mosquitto_lib_init();
	struct mosquitto *m = mosquitto_new(dev, true, (void *)dev);
	if (!m)
		return 1;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (mosquitto_tls_set(m, ca, NULL, crt, key, NULL) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "devsim %s: TLS files not usable\n", dev);
		return 1;
	}
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_publish_v5_callback_set(m, on_publish);
	mosquitto_message_v5_callback_set(m, on_message);
	if (mosquitto_connect_bind_v5(m, "127.0.0.1", port, 30, NULL, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "devsim %s: cannot connect\n", dev);
		return 1;
	}
	static unsigned char buf[DEVSIM_MSG];
	char line[DEVSIM_PATH + 16];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "quit") == 0)
			break;
		if (strncmp(line, "pub ", 4) != 0) {
			fprintf(stderr, "devsim %s: unknown command '%s'\n", dev, line);
			continue;
		}
		FILE *f = fopen(line + 4, "rb");
		size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
		if (f)
			fclose(f);
		int rc = mosquitto_publish_v5(m, NULL, topic, (int)n, buf, 1, false, NULL);
		if (rc)
			fprintf(stderr, "devsim %s: publish: %s\n", dev, mosquitto_strerror(rc));
	}
	mosquitto_disconnect_v5(m, 0, NULL);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
