// Package malls is the plug-in point for bank malls. Each mall is one adapter package
// (adapters/ccb, adapters/abc) that exports one Driver value; cmd/aidmall lists the
// drivers once (New(ccb.Driver, abc.Driver)) and everything else — the codes the API
// accepts, the OpenAPI enum, report labels, CLI help, the catalogue's listing columns,
// which malls the configuration names — comes from that list. docs/MALLS.md says what
// adding a mall takes.
//
// malls is not a domain package: it may import net/http. The domain (orders, households,
// reports) never imports it.
package malls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"aidmall/bizday"
	"aidmall/config"
	"aidmall/orders"
)

// Driver is one mall's plug-in: what the service knows of the mall before it connects.
type Driver interface {
	// Code is the mall's code in the API, configuration and data ("ccb"): lowercase
	// letters and digits, starting with a letter.
	Code() orders.Mall
	// Names are the mall's display names, for report labels and CLI help.
	Names() Names
	// Limits are what the mall accepts of an order (its spec's lengths of buyer reference
	// and out_order_no, whether it needs a consignee): the orders service checks every
	// order against the chosen mall's before it is stored.
	Limits() orders.MallLimits
	// Open connects to the mall with its settings (config.Config.Malls[Code()]), loading
	// its keys. It returns ErrNotConfigured when s names no URL.
	Open(s config.MallConfig, env Env) (Mall, error)
	// ParseStatement reads one of the mall's daily statement files as it downloads them:
	// the events of the rows that read, an error per row that did not (with the good rows),
	// and an error when the file cannot be read at all.
	ParseStatement(r io.Reader) ([]orders.FulfilmentEvent, []error, error)
}

// Names are a mall's display names.
type Names struct {
	Chinese string // 中国建设银行 善融商务
	English string // China Construction Bank (CCB)
}

// Env is what the service lends a mall when it connects.
type Env struct {
	// Nonces remembers notification nonces for replay protection (shared by the
	// processes of one deployment: Redis, or in process). Required.
	Nonces NonceStore
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// HTTP sends the mall's requests (the driver's default when nil).
	HTTP *http.Client
}

// NonceStore remembers keys for a while (redisx implements it).
type NonceStore interface {
	// Remember records key for ttl and reports whether it was new (false = seen before
	// within ttl).
	Remember(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Mall is a connected mall: its partner API (orders.MallClient), its notifications and
// its statements. Every refusal it returns is an *orders.MallError the mall classified
// itself: Retryable, NotFound, AlreadyShipped, or final.
type Mall interface {
	orders.MallClient
	Notifications
	// Statement fetches and parses the statement of business day day (Beijing), as
	// Driver.ParseStatement.
	Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, []error, error)
}

// Notifications verifies and parses a mall's notifications and answers them in the
// mall's own words (api.MallWebhook).
type Notifications interface {
	// Parse verifies the notification r with raw body body and returns the mall-neutral
	// event. An error wrapping orders.ErrUnreadableEvent means the mall signed it but its
	// fields cannot be used; any other error means it is forged, stale or malformed.
	Parse(ctx context.Context, r *http.Request, body []byte) (orders.FulfilmentEvent, error)
	// Ack is the answer that tells the mall the event is durably recorded.
	Ack(r *http.Request) (status int, header http.Header, body []byte)
	// Nack is the answer that makes the mall send the event again; err is why.
	Nack(r *http.Request, err error) (status int, header http.Header, body []byte)
}

// RowError is one row of a mall's statement file that could not be read: Row is its
// line number in the file (1-based, the header included where there is one), Column the
// field at fault ("" when the row as a whole is), Reason what is wrong.
type RowError struct {
	Mall   orders.Mall
	Row    int
	Column string
	Reason string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("%s statement row %d: %s", e.Mall, e.Row, e.Reason)
	}
	return fmt.Sprintf("%s statement row %d, %s: %s", e.Mall, e.Row, e.Column, e.Reason)
}

// RowErrors returns bad as errors (Driver.ParseStatement's and Mall.Statement's).
func RowErrors(bad []RowError) []error {
	out := make([]error, len(bad))
	for i, b := range bad {
		out[i] = b
	}
	return out
}

// ErrNotConfigured is Driver.Open's answer for a mall the configuration does not name.
var ErrNotConfigured = errors.New("mall not configured")

var codeRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,15}$`)

// Registry is the registered drivers, in the order given (`auto` routing breaks ties in
// this order).
type Registry struct {
	drivers []Driver
	byCode  map[orders.Mall]Driver
}

// New registers ds. Codes must be well formed, distinct and not "auto".
func New(ds ...Driver) (*Registry, error) {
	r := &Registry{byCode: map[orders.Mall]Driver{}}
	for _, d := range ds {
		if d == nil {
			return nil, errors.New("malls: nil driver")
		}
		c := d.Code()
		switch {
		case !codeRE.MatchString(string(c)) || c == orders.MallAuto:
			return nil, fmt.Errorf("malls: driver code %q is not 2–16 lowercase letters and digits (and not auto)", c)
		case r.byCode[c] != nil:
			return nil, fmt.Errorf("malls: driver %q registered twice", c)
		}
		r.drivers = append(r.drivers, d)
		r.byCode[c] = d
	}
	return r, nil
}

// MustNew is New that panics, for the one registration list in cmd/aidmall.
func MustNew(ds ...Driver) *Registry {
	r, err := New(ds...)
	if err != nil {
		panic(err)
	}
	return r
}

// Codes returns the registered codes in registration order.
func (r *Registry) Codes() []orders.Mall {
	out := make([]orders.Mall, len(r.drivers))
	for i, d := range r.drivers {
		out[i] = d.Code()
	}
	return out
}

// Driver returns the driver of code.
func (r *Registry) Driver(code orders.Mall) (Driver, bool) {
	d, ok := r.byCode[code]
	return d, ok
}

// Infos returns the malls codes, each with its registered driver's limits, for
// orders.NewService (Connected.Codes, or Codes for every registered mall). A code no
// driver is registered under gets no limits.
func (r *Registry) Infos(codes []orders.Mall) []orders.MallInfo {
	out := make([]orders.MallInfo, len(codes))
	for i, c := range codes {
		out[i].Code = c
		if d, ok := r.byCode[c]; ok {
			out[i].Limits = d.Limits()
		}
	}
	return out
}

// Labels maps each code to its Chinese display name, for reports.
func (r *Registry) Labels() map[string]string {
	out := map[string]string{}
	for _, d := range r.drivers {
		n := d.Names()
		out[string(d.Code())] = n.Chinese
	}
	return out
}

// Help is "ccb (China Construction Bank), abc (…)" for CLI help.
func (r *Registry) Help() string {
	parts := make([]string, len(r.drivers))
	for i, d := range r.drivers {
		parts[i] = fmt.Sprintf("%s (%s)", d.Code(), d.Names().English)
	}
	return strings.Join(parts, ", ")
}

// Connected is the malls a process talks to, in registration order.
type Connected struct {
	list []Mall
}

// Open connects every registered mall that cfg configures (a mall with no URL is left
// out).
func (r *Registry) Open(cfg config.Config, env Env) (*Connected, error) {
	c := &Connected{}
	for _, d := range r.drivers {
		m, err := d.Open(cfg.Mall(d.Code()), env)
		if errors.Is(err, ErrNotConfigured) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Code(), err)
		}
		c.list = append(c.list, m)
	}
	return c, nil
}

// Connect is a Connected of malls already opened (the demo's simulators, tests).
func Connect(ms ...Mall) *Connected { return &Connected{list: ms} }

// All returns the connected malls in order.
func (c *Connected) All() []Mall { return append([]Mall(nil), c.list...) }

// Codes returns the connected malls' codes in order (Registry.Infos gives them their
// limits for orders.NewService).
func (c *Connected) Codes() []orders.Mall {
	out := make([]orders.Mall, len(c.list))
	for i, m := range c.list {
		out[i] = m.Mall()
	}
	return out
}

// RequireSettings returns an error naming, as the operator sets them, the settings of
// mall code that s lacks among those a driver needs: "app_id", "private_key_file",
// "mall_public_key_file". A driver calls it from Open.
func RequireSettings(code orders.Mall, s config.MallConfig, needed ...string) error {
	have := map[string]string{"app_id": s.AppID, "private_key_file": s.PrivateKeyFile, "mall_public_key_file": s.MallPublicKeyFile}
	var missing []string
	for _, n := range needed {
		v, known := have[n]
		if !known {
			return fmt.Errorf("%s: unknown setting %q", code, n)
		}
		if v == "" {
			missing = append(missing, config.MallEnvPrefix(code)+strings.ToUpper(n))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s: required once %sURL is set", code, strings.Join(missing, ", "), config.MallEnvPrefix(code))
	}
	return nil
}
