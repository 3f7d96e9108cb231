package people

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"aidmall/audit"
	"aidmall/households"
	"aidmall/orders"
)

// Store keeps accounts (adapters/sqlstore implements it). Reads of an absent account wrap
// orders.ErrNotFound.
type Store interface {
	// InsertPerson stores p and e (its audit entry) in one transaction and returns p with
	// its id; a taken login wraps orders.ErrConflict.
	InsertPerson(ctx context.Context, p Person, e audit.Entry) (Person, error)
	PersonByLogin(ctx context.Context, login string) (Person, error)
	PersonByID(ctx context.Context, id int64) (Person, error)
	// People lists every account, by login.
	People(ctx context.Context) ([]Person, error)
	// UpdatePerson locks the account with login, lets change alter it and give the audit
	// entry of the change, and saves both in one transaction; change's error rolls back.
	UpdatePerson(ctx context.Context, login string, change func(p *Person) (audit.Entry, error)) (Person, error)
	// DeleteSessionsOf ends every session of the person (sign-out everywhere).
	DeleteSessionsOf(ctx context.Context, personID int64) error
	Branch(ctx context.Context, code string) (households.Branch, error)
	Audit(ctx context.Context, e audit.Entry) error
}

// Service is the accounts' use cases. The actor of a change is the one ctx carries
// (audit.WithActor): "web:<login>" from the pages, "cli:<user>" from the CLI.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns the use cases over store; now is the clock (time.Now when nil).
func NewService(store Store, now func() time.Time) (*Service, error) {
	if store == nil {
		return nil, errors.New("people: nil store")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}, nil
}

// Object is how the audit log names the account with login.
func Object(login string) string { return "person:" + login }

// Add makes an account. Without r.Password one is generated; the password is returned
// (the only time it is seen). Errors: *InvalidError naming each bad field (an unknown
// branch included); orders.ErrConflict (as *orders.Error) when the login is taken.
func (s *Service) Add(ctx context.Context, r NewPerson) (Person, string, error) {
	err := r.check()
	var inv *InvalidError
	if err != nil && !errors.As(err, &inv) {
		return Person{}, "", err
	}
	if r.BranchCode != "" && r.Role == orders.RoleBranchStaff {
		if _, berr := s.store.Branch(ctx, r.BranchCode); errors.Is(berr, orders.ErrNotFound) {
			if inv == nil {
				inv = &InvalidError{}
			}
			inv.add("branch", "没有代码为 %s 的单位", r.BranchCode)
		} else if berr != nil {
			return Person{}, "", berr
		}
	}
	if err := inv.orNil(); err != nil {
		return Person{}, "", err
	}
	password := r.Password
	if password == "" {
		if password, err = GeneratePassword(); err != nil {
			return Person{}, "", err
		}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Person{}, "", err
	}
	now := s.now().UTC()
	actor := audit.ActorFrom(ctx)
	p := Person{Login: r.Login, Name: r.Name, Role: r.Role, BranchCode: r.BranchCode, PasswordHash: hash,
		CreatedAt: now, UpdatedAt: now, PasswordAt: now, CreatedBy: actor.Name, UpdatedBy: actor.Name}
	e, err := audit.New(actor, audit.ActionPersonCreate, Object(p.Login), nil, p.auditView())
	if err != nil {
		return Person{}, "", err
	}
	p, err = s.store.InsertPerson(ctx, p, e)
	if errors.Is(err, orders.ErrConflict) {
		return Person{}, "", &orders.Error{Kind: orders.ErrConflict, Message: fmt.Sprintf("登录名 %s 已被使用", r.Login), Err: err}
	}
	if err != nil {
		return Person{}, "", err
	}
	return p, password, nil
}

// ResetPassword gives login a new password (password, or a generated one when empty),
// returned once, and ends the person's sessions. Errors: *InvalidError for a password the
// policy refuses; orders.ErrNotFound (as *orders.Error) for an unknown login.
func (s *Service) ResetPassword(ctx context.Context, login, password string) (Person, string, error) {
	login = NormalizeLogin(login)
	if password != "" {
		if msg := PasswordProblem(password, login); msg != "" {
			return Person{}, "", &InvalidError{Fields: []FieldError{{"password", msg}}}
		}
	} else {
		var err error
		if password, err = GeneratePassword(); err != nil {
			return Person{}, "", err
		}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Person{}, "", err
	}
	p, err := s.update(ctx, login, audit.ActionPersonReset, func(p *Person) error {
		p.PasswordHash = hash
		p.PasswordAt = s.now().UTC()
		return nil
	})
	if err != nil {
		return Person{}, "", err
	}
	if err := s.store.DeleteSessionsOf(ctx, p.ID); err != nil {
		return Person{}, "", err
	}
	return p, password, nil
}

// SetDisabled disables (or enables again) login. A disabled person cannot sign in, and
// their sessions end at once. Nobody disables their own account (the last aid office
// could lock everyone out). Errors: orders.ErrNotFound for an unknown login;
// *InvalidError for one's own account.
func (s *Service) SetDisabled(ctx context.Context, login string, disabled bool) (Person, error) {
	login = NormalizeLogin(login)
	action := audit.ActionPersonEnable
	if disabled {
		action = audit.ActionPersonDisable
		if a := audit.ActorFrom(ctx); a.Name == "web:"+login {
			return Person{}, &InvalidError{Fields: []FieldError{{"login", "不能停用自己的账号"}}}
		}
	}
	p, err := s.update(ctx, login, action, func(p *Person) error {
		p.Disabled = disabled
		return nil
	})
	if err != nil {
		return Person{}, err
	}
	if disabled {
		if err := s.store.DeleteSessionsOf(ctx, p.ID); err != nil {
			return Person{}, err
		}
	}
	return p, nil
}

// update changes login's account under its lock with its audit entry.
func (s *Service) update(ctx context.Context, login, action string, change func(p *Person) error) (Person, error) {
	actor := audit.ActorFrom(ctx)
	p, err := s.store.UpdatePerson(ctx, login, func(p *Person) (audit.Entry, error) {
		before := p.auditView()
		if err := change(p); err != nil {
			return audit.Entry{}, err
		}
		p.UpdatedAt = s.now().UTC()
		p.UpdatedBy = actor.Name
		return audit.New(actor, action, Object(p.Login), before, p.auditView())
	})
	if errors.Is(err, orders.ErrNotFound) {
		return Person{}, &orders.Error{Kind: orders.ErrNotFound, Message: fmt.Sprintf("没有登录名为 %s 的人员", login), Err: err}
	}
	return p, err
}

// SignIn returns the active person with login and password, or ErrBadSignIn for an
// unknown login, a wrong password or a disabled account (an unknown login costs the same
// time as a wrong password). Every attempt is audited with the login tried and from (the
// client's address), never the password.
func (s *Service) SignIn(ctx context.Context, login, password, from string) (Person, error) {
	login = NormalizeLogin(login)
	refuse := func(reason string) (Person, error) {
		shown := login
		if len([]rune(shown)) > 64 {
			shown = string([]rune(shown)[:64])
		}
		e, err := audit.New(audit.Actor{Name: "web:" + shown, Role: "anonymous"}, audit.ActionSignInRefused, Object(shown), nil,
			map[string]string{"reason": reason, "from": from})
		if err != nil {
			return Person{}, err
		}
		if err := s.store.Audit(ctx, e); err != nil {
			return Person{}, err
		}
		return Person{}, ErrBadSignIn
	}
	if !CheckLogin(login) || password == "" || len(password) > 4*MaxPassword {
		_, _ = CheckPassword(dummyHash(), password[:min(len(password), 4*MaxPassword)])
		return refuse("malformed")
	}
	p, err := s.store.PersonByLogin(ctx, login)
	if errors.Is(err, orders.ErrNotFound) {
		_, _ = CheckPassword(dummyHash(), password)
		return refuse("unknown login")
	}
	if err != nil {
		return Person{}, err
	}
	ok, err := CheckPassword(p.PasswordHash, password)
	if err != nil {
		return Person{}, fmt.Errorf("person %d: %w", p.ID, err)
	}
	switch {
	case !ok:
		return refuse("wrong password")
	case p.Disabled:
		return refuse("disabled")
	}
	e, err := audit.New(audit.Actor{Name: "web:" + p.Login, Role: string(p.Role)}, audit.ActionSignIn, Object(p.Login), nil,
		map[string]string{"from": from})
	if err != nil {
		return Person{}, err
	}
	if err := s.store.Audit(ctx, e); err != nil {
		return Person{}, err
	}
	return p, nil
}

// Person returns the active person with id as they are now; orders.ErrNotFound when the
// account is gone or disabled (their session ends).
func (s *Service) Person(ctx context.Context, id int64) (Person, error) {
	p, err := s.store.PersonByID(ctx, id)
	if err != nil {
		return Person{}, err
	}
	if p.Disabled {
		return Person{}, fmt.Errorf("person %s disabled: %w", strconv.Quote(p.Login), orders.ErrNotFound)
	}
	return p, nil
}

// List returns every account (disabled ones too), by login.
func (s *Service) List(ctx context.Context) ([]Person, error) { return s.store.People(ctx) }
