package malls_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"aidmall/config"
	"aidmall/malls"
	"aidmall/orders"
)

type stubDriver struct{ code orders.Mall }

func (d stubDriver) Code() orders.Mall { return d.code }
func (d stubDriver) Names() malls.Names {
	return malls.Names{Chinese: string(d.code) + "商城", English: string(d.code) + " mall"}
}
func (stubDriver) Limits() orders.MallLimits { return orders.MallLimits{OrderRefMax: 10} }
func (d stubDriver) Open(s config.MallConfig, _ malls.Env) (malls.Mall, error) {
	if !s.Configured() {
		return nil, malls.ErrNotConfigured
	}
	return nil, errors.New("stub cannot connect")
}
func (stubDriver) ParseStatement(io.Reader) ([]orders.FulfilmentEvent, []error, error) {
	return nil, nil, nil
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r, err := malls.New(stubDriver{"xyz"}, stubDriver{"ccb"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Codes(); len(got) != 2 || got[0] != "xyz" || got[1] != "ccb" {
		t.Errorf("codes %v, want registration order [xyz ccb]", got)
	}
	if r.Labels()["xyz"] != "xyz商城" || r.Help() != "xyz (xyz mall), ccb (ccb mall)" {
		t.Errorf("labels %v, help %q", r.Labels(), r.Help())
	}
	infos := r.Infos([]orders.Mall{"ccb", "zzz"})
	if len(infos) != 2 || infos[0] != (orders.MallInfo{Code: "ccb", Limits: orders.MallLimits{OrderRefMax: 10}}) || infos[1] != (orders.MallInfo{Code: "zzz"}) {
		t.Errorf("infos %+v: want ccb with its driver's limits, zzz with none", infos)
	}
	for _, bad := range [][]malls.Driver{
		{stubDriver{"ccb"}, stubDriver{"ccb"}}, {stubDriver{"auto"}}, {stubDriver{"CCB"}}, {stubDriver{""}}, {nil},
	} {
		if _, err := malls.New(bad...); err == nil {
			t.Errorf("New(%v) accepted", bad)
		}
	}
	// A mall without settings is left out; one with settings that fails to connect is an error.
	c, err := r.Open(config.Config{}, malls.Env{})
	if err != nil || len(c.Codes()) != 0 {
		t.Errorf("Open with no mall configured = %v, %v", c, err)
	}
	cfg := config.Config{Malls: map[orders.Mall]config.MallConfig{"ccb": {URL: "https://ccb.example"}}}
	if _, err := r.Open(cfg, malls.Env{}); err == nil {
		t.Error("a configured mall that cannot connect was left out silently")
	}
}

// A driver says which settings it needs; the error names them as an operator sets them.
func TestRequireSettings(t *testing.T) {
	t.Parallel()
	full := config.MallConfig{URL: "https://m.example", AppID: "1", PrivateKeyFile: "k", MallPublicKeyFile: "p"}
	tests := []struct {
		name   string
		s      config.MallConfig
		needed []string
		want   []string // fragments of the error; nil: no error
	}{
		{"all_there", full, []string{"app_id", "private_key_file", "mall_public_key_file"}, nil},
		{"none_needed", config.MallConfig{URL: "https://m.example"}, nil, nil},
		{"url_only", config.MallConfig{URL: "https://m.example"}, []string{"app_id", "private_key_file", "mall_public_key_file"},
			[]string{"AIDMALL_XYZ_APP_ID", "AIDMALL_XYZ_PRIVATE_KEY_FILE", "AIDMALL_XYZ_MALL_PUBLIC_KEY_FILE", "AIDMALL_XYZ_URL"}},
		{"one_missing", config.MallConfig{URL: "https://m.example", AppID: "1", PrivateKeyFile: "k"}, []string{"app_id", "private_key_file", "mall_public_key_file"},
			[]string{"AIDMALL_XYZ_MALL_PUBLIC_KEY_FILE"}},
		{"a_setting_that_does_not_exist", full, []string{"password"}, []string{`unknown setting "password"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := malls.RequireSettings("xyz", tc.s, tc.needed...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("RequireSettings: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("RequireSettings succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if tc.name == "one_missing" && strings.Contains(err.Error(), "APP_ID") {
				t.Errorf("error %q names a setting that is there", err)
			}
		})
	}
}
