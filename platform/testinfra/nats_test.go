package testinfra_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/testinfra"
)

func TestNATSJetStreamRoundTrip(t *testing.T) {
	t.Parallel()
	n := testinfra.StartNATS(t)
	js := n.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ROUNDTRIP", Subjects: []string{"rt.>"}})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "rt.one", []byte("hello")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var got []string
	for msg := range batch.Messages() {
		got = append(got, msg.Subject()+"="+string(msg.Data()))
		if err := msg.Ack(); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if len(got) != 1 || got[0] != "rt.one=hello" {
		t.Fatalf("consumed %q, want [rt.one=hello]", got)
	}
}

func TestNATSServersAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := testinfra.StartNATS(t), testinfra.StartNATS(t)
	if a.URL == b.URL || a.MQTTAddr == b.MQTTAddr {
		t.Fatalf("two servers share an address: %s/%s and %s/%s", a.URL, a.MQTTAddr, b.URL, b.MQTTAddr)
	}
}

// TestNATSMQTTConnect sends raw MQTT 3.1.1 CONNECT packets: with the test user's credentials
// it expects an accepting CONNACK, without any a refusal (not authorised).
func TestNATSMQTTConnect(t *testing.T) {
	t.Parallel()
	n := testinfra.StartNATS(t)
	if got := mqttConnect(t, n, n.User, n.Password); !bytes.Equal(got, []byte{0x20, 0x02, 0x00, 0x00}) {
		t.Fatalf("CONNACK with credentials = % x, want 20 02 00 00 (accepted)", got)
	}
	if got := mqttConnect(t, n, "", ""); !bytes.Equal(got, []byte{0x20, 0x02, 0x00, 0x05}) {
		t.Fatalf("CONNACK without credentials = % x, want 20 02 00 05 (not authorised)", got)
	}
}

func mqttConnect(t *testing.T, n *testinfra.NATS, user, password string) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.MQTTAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial MQTT %s: %v", n.MQTTAddr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	clientID := "testinfra"
	variable := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30} // protocol, level 4, clean session, keep-alive 30s
	payload := append([]byte{0, byte(len(clientID))}, clientID...)
	if user != "" {
		variable[7] |= 0xC0 // user name and password follow
		payload = append(payload, 0, byte(len(user)))
		payload = append(payload, user...)
		payload = append(payload, 0, byte(len(password)))
		payload = append(payload, password...)
	}
	packet := append([]byte{0x10, byte(len(variable) + len(payload))}, variable...)
	packet = append(packet, payload...)
	if _, err := conn.Write(packet); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		t.Fatalf("read CONNACK: %v", err)
	}
	return ack
}
