// Package mqtt is a small MQTT 3.1.1 publisher over a net.Conn, written for the quality
// simulator and tests (no third-party client): CONNECT with a clean session, PUBLISH at QoS 0
// or 1 (waiting for the PUBACK), PINGREQ and DISCONNECT. It does not subscribe.
package mqtt

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Packet types (high nibble of the first byte).
const (
	connect    = 1
	connack    = 2
	publish    = 3
	puback     = 4
	pingreq    = 12
	pingresp   = 13
	disconnect = 14
)

// Timeout bounds each exchange with the broker.
const Timeout = 10 * time.Second

// Client is one connection to a broker. Its methods are safe for concurrent use.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	next uint16
}

// Dial connects to addr (host:port) as clientID with a clean session, authenticating with user
// and password when password is set (on the mesh's server: a mesh access token as the
// password, see docs/governance.md).
func Dial(ctx context.Context, addr, clientID, user, password string) (*Client, error) {
	const op = "mqtt.Dial"
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c := &Client{conn: conn, r: bufio.NewReader(conn)}
	body := appendString(nil, "MQTT")
	flags := byte(0x02) // clean session
	if password != "" {
		flags |= 0xC0 // user name and password follow the client id
	}
	body = append(body, 4, flags, 0, 60) // level 3.1.1, keep-alive 60 s
	body = appendString(body, clientID)
	if password != "" {
		body = appendString(body, user)
		body = appendString(body, password)
	}
	if err := c.roundTrip(packet(connect<<4, body), connack); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

// Publish sends payload to topic. At QoS 1 it waits for the broker's PUBACK.
func (c *Client) Publish(topic string, payload []byte, qos byte) error {
	const op = "mqtt.Publish"
	if qos > 1 {
		return fmt.Errorf("%s: QoS %d is not supported", op, qos)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	body := appendString(nil, topic)
	var id uint16
	if qos == 1 {
		c.next++
		if c.next == 0 {
			c.next = 1
		}
		id = c.next
		body = binary.BigEndian.AppendUint16(body, id)
	}
	body = append(body, payload...)
	p := packet(publish<<4|qos<<1, body)
	if qos == 0 {
		if err := c.write(p); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	}
	if err := c.exchange(p, puback); err != nil {
		return fmt.Errorf("%s %s: %w", op, topic, err)
	}
	return nil
}

// Ping checks the connection with a PINGREQ.
func (c *Client) Ping() error {
	if err := c.roundTrip([]byte{pingreq << 4, 0}, pingresp); err != nil {
		return fmt.Errorf("mqtt.Ping: %w", err)
	}
	return nil
}

// Close sends DISCONNECT and closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	werr := c.write([]byte{disconnect << 4, 0})
	return errors.Join(werr, c.conn.Close())
}

func (c *Client) roundTrip(p []byte, want byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exchange(p, want)
}

// exchange writes p and reads the answer of type want (c.mu held). A CONNACK must accept.
func (c *Client) exchange(p []byte, want byte) error {
	if err := c.write(p); err != nil {
		return err
	}
	if err := c.conn.SetReadDeadline(time.Now().Add(Timeout)); err != nil {
		return err
	}
	head, err := c.r.ReadByte()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	n, err := readLength(c.r)
	if err != nil {
		return err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if head>>4 != want {
		return fmt.Errorf("broker answered packet type %d, want %d", head>>4, want)
	}
	if want == connack && (len(body) != 2 || body[1] != 0) {
		return fmt.Errorf("connection refused: CONNACK % x", body)
	}
	return nil
}

func (c *Client) write(p []byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(Timeout)); err != nil {
		return err
	}
	_, err := c.conn.Write(p)
	return err
}

// packet frames body with the fixed header.
func packet(first byte, body []byte) []byte {
	p := []byte{first}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		p = append(p, b)
		if n == 0 {
			break
		}
	}
	return append(p, body...)
}

func readLength(r *bufio.Reader) (int, error) {
	n, mul := 0, 1
	for range 4 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("read length: %w", err)
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			return n, nil
		}
		mul *= 128
	}
	return 0, errors.New("malformed remaining length")
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
