package logdelivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
)

// ErrMalformedNotification is matched by errors.Is for every notification
// body that cannot be understood. Such errors are permanent: the same body
// will never parse.
var ErrMalformedNotification = errors.New("malformed notification")

// NotificationError says why a notification body was rejected.
type NotificationError struct {
	Reason string
	Err    error // underlying cause, may be nil
}

func (e *NotificationError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("malformed notification: %s: %v", e.Reason, e.Err)
	}
	return "malformed notification: " + e.Reason
}

// Is makes errors.Is(err, ErrMalformedNotification) and
// errors.Is(err, fault.ErrPermanent) true.
func (e *NotificationError) Is(target error) bool {
	return target == ErrMalformedNotification || target == fault.ErrPermanent
}

func (e *NotificationError) Unwrap() error { return e.Err }

// maxNotificationBytes bounds what ParseNotification accepts: SQS messages
// are at most 1 MiB (256 KiB until 2025).
const maxNotificationBytes = 1 << 20

// ParseNotification returns the created objects a message body announces.
// It understands S3 event notifications delivered directly to SQS, wrapped
// in an SNS notification (raw message delivery on or off), and EventBridge
// "Object Created" events. Keys of S3 event notifications are URL-decoded
// ("+" is a space); EventBridge carries keys verbatim.
//
// It also reads what the reference implementation's manual and scan modes
// produce: an SNS envelope without Type (only its Message), and S3 records
// without eventName, which are taken as object creations.
//
// An s3:TestEvent, and events other than object creation, yield no objects
// and no error. A body that is none of these is a *NotificationError. When
// only some records of an S3 event are unusable, ParseNotification returns
// the usable objects together with a *NotificationError naming the others:
// deliver the objects and report the error, so that one bad record never
// drops the good ones. An event time that cannot be read is not an error:
// the object's time then comes from its key. Object IDs are left empty for
// the caller to set.
func ParseNotification(body []byte) ([]Object, error) {
	if len(body) > maxNotificationBytes {
		return nil, &NotificationError{Reason: fmt.Sprintf("body of %d bytes exceeds %d", len(body), maxNotificationBytes)}
	}
	return parseNotification(body, 0)
}

// envelope holds the fields that tell the notification shapes apart.
type envelope struct {
	// SNS
	Type     string  `json:"Type"`
	Message  *string `json:"Message"`
	TopicArn string  `json:"TopicArn"`
	// S3 event notification
	Records *[]s3Record `json:"Records"`
	// S3 test event
	Event   string `json:"Event"`
	Service string `json:"Service"`
	// EventBridge
	DetailType string           `json:"detail-type"`
	Source     string           `json:"source"`
	Time       string           `json:"time"`
	Detail     *json.RawMessage `json:"detail"`
}

type s3Record struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	EventTime   string `json:"eventTime"`
	S3          *struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string      `json:"key"`
			Size      json.Number `json:"size"`
			VersionID string      `json:"versionId"`
			ETag      string      `json:"eTag"`
			Sequencer string      `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

type eventBridgeDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string      `json:"key"`
		Size      json.Number `json:"size"`
		VersionID string      `json:"version-id"`
		ETag      string      `json:"etag"`
		Sequencer string      `json:"sequencer"`
	} `json:"object"`
}

func parseNotification(body []byte, depth int) ([]Object, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &NotificationError{Reason: "empty body"}
	}
	if body[0] != '{' {
		return nil, &NotificationError{Reason: fmt.Sprintf("not a JSON object (starts with %q)", truncate(string(body), 20))}
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return nil, &NotificationError{Reason: "invalid JSON", Err: err}
	}
	if dec.More() {
		return nil, &NotificationError{Reason: "trailing data after the JSON object"}
	}
	switch {
	case env.Message != nil && (env.Type == "Notification" || env.Type == "" && env.Records == nil && env.Event == "" && env.Detail == nil):
		// The reference's scan and manual modes wrap S3 events in an SNS
		// envelope of Message alone.
		if depth > 0 {
			return nil, &NotificationError{Reason: "SNS notification nested in an SNS notification"}
		}
		objs, err := parseNotification([]byte(*env.Message), depth+1)
		if err != nil {
			// Keep the usable objects of a partly bad event.
			return objs, fmt.Errorf("in SNS message from %s: %w", env.TopicArn, err)
		}
		return objs, nil
	case env.Event == "s3:TestEvent":
		return nil, nil
	case env.Records != nil:
		return parseS3Records(*env.Records)
	case env.Source == "aws.s3" && env.Detail != nil:
		return parseEventBridge(env)
	}
	return nil, &NotificationError{Reason: "neither an S3 event notification, an SNS notification, nor an EventBridge S3 event"}
}

func parseS3Records(records []s3Record) ([]Object, error) {
	var objs []Object
	var bad []string
	for i, r := range records {
		if r.EventSource != "aws:s3" && r.EventSource != "" {
			bad = append(bad, fmt.Sprintf("record %d: event source %q is not aws:s3", i, r.EventSource))
			continue
		}
		if r.EventName != "" && !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue // removals, restores, replication: nothing to deliver
		}
		// A record without eventName is read as a creation: S3 always names
		// its events, the reference's scan and manual modes never do.
		if r.S3 == nil {
			bad = append(bad, fmt.Sprintf("record %d: no s3 section", i))
			continue
		}
		key, err := keyparse.DecodeNotificationKey(r.S3.Object.Key)
		if err != nil {
			bad = append(bad, fmt.Sprintf("record %d: %v", i, err))
			continue
		}
		obj, err := newObject(r.S3.Bucket.Name, key, r.S3.Object.VersionID, r.S3.Object.Size, r.EventTime)
		if err != nil {
			bad = append(bad, fmt.Sprintf("record %d: %v", i, err))
			continue
		}
		obj.ETag, obj.Sequencer = strings.Trim(r.S3.Object.ETag, `"`), r.S3.Object.Sequencer
		objs = append(objs, obj)
	}
	if len(bad) > 0 {
		return objs, &NotificationError{Reason: fmt.Sprintf("%d of %d records unusable: %s", len(bad), len(records), strings.Join(bad, "; "))}
	}
	return objs, nil
}

func parseEventBridge(env envelope) ([]Object, error) {
	if env.DetailType != "Object Created" {
		return nil, nil
	}
	var d eventBridgeDetail
	dec := json.NewDecoder(bytes.NewReader(*env.Detail))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return nil, &NotificationError{Reason: "EventBridge detail", Err: err}
	}
	obj, err := newObject(d.Bucket.Name, d.Object.Key, d.Object.VersionID, d.Object.Size, env.Time)
	if err != nil {
		return nil, &NotificationError{Reason: "EventBridge event: " + err.Error()}
	}
	obj.ETag, obj.Sequencer = strings.Trim(d.Object.ETag, `"`), d.Object.Sequencer
	return []Object{obj}, nil
}

func newObject(bucket, key, version string, size json.Number, eventTime string) (Object, error) {
	if bucket == "" {
		return Object{}, errors.New("no bucket name")
	}
	if key == "" {
		return Object{}, errors.New("no object key")
	}
	obj := Object{Bucket: bucket, Key: key, VersionID: version}
	if size != "" {
		n, err := size.Int64()
		if err != nil || n < 0 {
			return Object{}, fmt.Errorf("object size %q is not a byte count", size)
		}
		obj.Size = n
	}
	obj.Time = eventTimeOf(eventTime)
	return obj, nil
}

// eventTimeOf reads an event time: RFC 3339, or without a zone (read as
// UTC, as some S3-compatible stores write it). It returns the zero time for
// anything else, leaving the object's time to its key.
func eventTimeOf(s string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
