package mqtt_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/quality/mqtt"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// TestPublishReachesNATS publishes over TCP to the embedded server's MQTT port and reads the
// messages as NATS delivers them on factory.<machine>.<sensor>.
func TestPublishReachesNATS(t *testing.T) {
	t.Parallel()
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	sub, err := nc.SubscribeSync("factory.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mqtt.Dial(ctx, n.MQTTAddr, "quality-test", n.User, n.Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 300) // a two-byte remaining length
	payloads := map[byte]string{0: `{"value": 41.5}`, 1: `{"value": 42, "pad": "` + big + `"}`}
	for qos := byte(0); qos <= 1; qos++ {
		if err := c.Publish("factory/m1/temp-1", []byte(payloads[qos]), qos); err != nil {
			t.Fatal(err)
		}
		msg, err := sub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("QoS %d: %v", qos, err)
		}
		if msg.Subject != "factory.m1.temp-1" || !bytes.Equal(msg.Data, []byte(payloads[qos])) {
			t.Fatalf("QoS %d: got %s %q", qos, msg.Subject, msg.Data)
		}
	}
	if err := c.Publish("t", nil, 2); err == nil {
		t.Fatal("QoS 2 accepted")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := mqtt.Dial(ctx, "127.0.0.1:1", "x", "", ""); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}
