package people

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordPolicy(t *testing.T) {
	tests := []struct {
		name, password, login string
		ok                    bool
	}{
		{"a generated-style password is fine", "k7pm-2xqa-9dfw-h3tn", "wangfang", true},
		{"a Chinese passphrase is fine", "春眠不觉晓处处闻啼鸟", "wangfang", true},
		{"nine characters are too few", "abcdefghi", "wangfang", false},
		{"ten are enough", "abcdefghij", "wangfang", true},
		{"129 characters are too many", strings.Repeat("ab", 64) + "c", "wangfang", false},
		{"containing the login is refused", "my-wangfang-2019", "wangfang", false},
		{"containing the login in capitals is refused", "WANGFANG-2019!", "wangfang", false},
		{"one character repeated is refused", "aaaaaaaaaaaa", "wangfang", false},
		{"invalid UTF-8 is refused", "abcdefghij\xff", "wangfang", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PasswordProblem(tt.password, tt.login)
			if (got == "") != tt.ok {
				t.Fatalf("PasswordProblem(%q) = %q, want ok=%v", tt.password, got, tt.ok)
			}
		})
	}
}

func TestPasswordHashChecksOnlyItsPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q is not an argon2id PHC string or holds the password", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatalf("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := CheckPassword(h, pw); err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA"} {
		if ok, err := CheckPassword(bad, "x"); ok || err == nil {
			t.Errorf("malformed hash %q: ok=%v err=%v, want a refusal with an error", bad, ok, err)
		}
	}
}

func TestGeneratedPasswordsPassThePolicy(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if PasswordProblem(p, "wangfang") != "" || len(p) != 19 || strings.ContainsAny(p, "01lIO") || seen[p] {
			t.Fatalf("generated password %q: policy %q, or a look-alike, or a repeat", p, PasswordProblem(p, "wangfang"))
		}
		seen[p] = true
	}
}

func TestLoginPattern(t *testing.T) {
	for login, ok := range map[string]bool{"wangfang": true, "hq.zhang01": true, "li_na-2": true, "ab": false, "1abc": false,
		"王芳": false, "wang fang": false, strings.Repeat("a", 33): false, strings.Repeat("a", 32): true} {
		if CheckLogin(NormalizeLogin(login)) != ok {
			t.Errorf("login %q: want ok=%v", login, ok)
		}
	}
	if NormalizeLogin("  WangFang ") != "wangfang" {
		t.Errorf("logins are not case- and space-blind")
	}
}

func TestSessionExpiry(t *testing.T) {
	p := SessionPolicy{Idle: 2 * time.Hour, Absolute: 10 * time.Hour}
	signIn := time.Date(2019, 3, 4, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		seen time.Time
		want time.Time
	}{
		{"idle two hours after the last request", signIn.Add(time.Hour), signIn.Add(3 * time.Hour)},
		{"never past ten hours from sign-in however busy", signIn.Add(9 * time.Hour), signIn.Add(10 * time.Hour)},
	}
	for _, tt := range tests {
		if got := p.Expiry(signIn, tt.seen); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		s := Session{ExpiresAt: p.Expiry(signIn, tt.seen)}
		if !s.Alive(tt.want.Add(-time.Second)) || s.Alive(tt.want) {
			t.Errorf("%s: alive just before and dead at the expiry", tt.name)
		}
	}
}
