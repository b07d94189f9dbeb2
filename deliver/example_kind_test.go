package deliver_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// ConsoleSettings are the settings of the console kind: what a config may
// say, with the attribute names of the item.
type ConsoleSettings struct {
	Prefix string `json:"prefix,omitempty" required:"true" doc:"Printed before every message; at most 16 characters."`
	Upper  bool   `json:"upper,omitempty" doc:"Print messages in upper case."`
}

// Validate checks what the types cannot: the Registry has already refused
// unknown attributes, wrong JSON types and a missing prefix.
func (s *ConsoleSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	if len(s.Prefix) > 16 {
		return []tenant.FieldError{{Field: "prefix", Message: "is longer than 16 characters"}}
	}
	return nil
}

// Console delivers the records of each object to a writer.
type Console struct{ W io.Writer }

// Deliver prints every record the destination selects.
func (c Console) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	s, err := deliver.SettingsOf[ConsoleSettings](d, ConsoleKind(nil))
	if err != nil {
		return deliver.Receipt{}, err
	}
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, err
	}
	defer rr.Close()
	var rcpt deliver.Receipt
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			return rcpt, nil
		}
		if err != nil {
			return rcpt, err // a partial receipt with the classified error
		}
		msg := rec.Message
		if s.Upper {
			msg = strings.ToUpper(msg)
		}
		fmt.Fprintln(c.W, s.Prefix, msg)
		rcpt.Events++
	}
}

// ConsoleKind is the kind: its name, its settings and its deliverer.
func ConsoleKind(d deliver.Deliverer) deliver.Kind {
	return deliver.Kind{
		Name:        "console",
		Summary:     "Prints each record to a writer.",
		NewSettings: func() deliver.Settings { return new(ConsoleSettings) },
		Records:     true, // it reads records: it shares the decode with the tenant's other record destinations
		Deliverer:   d,
	}
}

// openString opens every object as the same two Vector events.
type openString string

func (o openString) Open(context.Context, deliver.Object) (*deliver.Body, error) {
	return &deliver.Body{ReadCloser: io.NopCloser(strings.NewReader(string(o)))}, nil
}

// A destination kind is a package of its own: a settings type, a
// Deliverer, a Kind. Registering it is one line; the Dispatcher, the
// stores and the configuration API then validate and deliver its configs.
// Kinds other than cloudwatch and s3 keep their settings in the item's
// "settings" attribute.
func Example_addingAKind() {
	kinds, err := deliver.NewRegistry([]deliver.Kind{
		ConsoleKind(Console{W: printer{}}), // the registration line
	})
	if err != nil {
		log.Fatal(err)
	}

	store, _ := memstore.New([]tenant.DeliveryConfig{{
		TenantID: "acme", Type: "console",
		Settings: map[string]any{"prefix": "[acme]", "upper": true},
	}})
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) {
		o.Opener = openString(`{"message":"payment accepted","timestamp":"2026-11-30T10:00:00Z"}` + "\n" +
			`{"message":"receipt sent","timestamp":"2026-11-30T10:00:01Z"}` + "\n")
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	for _, r := range d.Dispatch(context.Background(), logdelivery.Object{Bucket: "central", Key: "c1/acme/payments/payments-0/1764496800.json"}) {
		fmt.Println(r.Destination, r.Outcome, r.Receipt.Events)
	}

	// A config the kind refuses, as the configuration API would report it.
	bad := tenant.DeliveryConfig{TenantID: "acme", Type: "console", Settings: map[string]any{"prefix": "[a-very-long-prefix]", "colour": "red"}}
	fmt.Println(kinds.Validate(bad))
	// Output:
	// [acme] PAYMENT ACCEPTED
	// [acme] RECEIPT SENT
	// console delivered 2
	// invalid delivery config acme/console: settings.colour: is not a setting of kind "console"; settings.prefix: is longer than 16 characters
}

// printer writes to standard output, where Example output is compared.
type printer struct{}

func (printer) Write(p []byte) (int, error) { fmt.Print(string(p)); return len(p), nil }
