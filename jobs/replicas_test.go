package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// Several runners on one PostgreSQL schema are the replicas of a deployment: these tests
// run them in one process, each its own River client (and, with ListenURL, its own LISTEN
// connection), over the one database.

// listenURL is the URL of db (a sqltest.Postgres schema): the test server's with db's
// search_path, as a deployment's DATABASE_URL names its database.
func listenURL(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var schema string
	if err := db.QueryRowContext(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(sqltest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// migratedPostgres is a fresh PostgreSQL schema with River's tables (skipped with the
// reason without AIDMALL_TEST_POSTGRES).
func migratedPostgres(t *testing.T) *sqlstore.DB { return withRiver(t, sqltest.Postgres(t)) }

// replica is one more runner over g's database, stores and fake malls (another replica
// of the same deployment); mutate adjusts its Config. It is started, and stopped when
// the test ends.
func (g *rig) replica(t *testing.T, mutate func(c *Config)) *Runner {
	t.Helper()
	cfg := Config{
		DB: g.sql, Dialect: g.db.Dialect, Store: g.st, Orders: g.svc, Unreadable: g.st,
		Malls:      Malls{mallCCB: g.ccb, mallABC: g.abc},
		BranchName: func(context.Context, string) (string, error) { return "总部", nil },
		NotifyURL:  func(m orders.Mall) string { return "http://127.0.0.1:8080/webhooks/" + string(m) },
		Logger:     discardLog(), Workers: 2, PollInterval: 20 * time.Millisecond,
		Backoff: Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		Metrics: prometheus.NewRegistry(), testOnly: true,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return r
}

func TestNew_refusesListenURLOnSQLite(t *testing.T) {
	db := migratedSQLite(t)
	_, err := New(Config{DB: db.DB.DB, Dialect: db.Dialect, Store: sqltest.Store(t, db), Orders: service(t, sqltest.Store(t, db)),
		BranchName: func(context.Context, string) (string, error) { return "", nil },
		NotifyURL:  func(orders.Mall) string { return "" }, Logger: discardLog(),
		ListenURL: "postgres://postgres@127.0.0.1:5432/postgres"})
	if err == nil {
		t.Fatal("New took a ListenURL on SQLite")
	}
}

// A job committed by one River client (the store's insert-only enqueuer: another
// replica's) starts on a listening runner without waiting for its poll; a runner that
// only polls, with the same long interval, has not started it in that time.
func TestListen_startsAJobPlacedElsewhereAtOnce(t *testing.T) {
	const poll, within = 20 * time.Second, 2 * time.Second
	for _, listen := range []bool{true, false} {
		t.Run(fmt.Sprintf("listen=%v", listen), func(t *testing.T) {
			t.Parallel()
			db := migratedPostgres(t)
			url := listenURL(t, db)
			g := newRig(t, db, func(c *Config) {
				c.PollInterval = poll
				if listen {
					c.ListenURL = url
				}
			})
			if g.r.Listening() != listen {
				t.Fatalf("Listening() = %v", g.r.Listening())
			}
			g.start(t)
			if listen {
				// A first order proves the runner works and gives its listener time to
				// LISTEN (River connects it as it starts, and subscribes asynchronously).
				first := g.place(t, testOrder("WARM-UP"))
				g.waitFor(t, "the first dispatch", finished(DispatchArgs{}.Kind(), first.ID))
			} else {
				time.Sleep(200 * time.Millisecond) // past the start-up fetch
			}
			placed := time.Now()
			o := g.place(t, testOrder("ELSEWHERE"))
			want := "create:" + string(o.OutOrderNo)
			deadline := time.After(within)
			for {
				select {
				case call := <-g.ccb.calls:
					if call != want {
						continue
					}
					latency := time.Since(placed)
					if !listen {
						t.Fatalf("a polling runner (every %s) started the job after %s", poll, latency)
					}
					t.Logf("job latency with LISTEN/NOTIFY: %s (poll interval %s)", latency, poll)
					return
				case <-deadline:
					if listen {
						t.Fatalf("the job did not start within %s of its commit (poll interval %s): not notified", within, poll)
					}
					return
				}
			}
		})
	}
}

// Three replicas on one schema: River's leader election makes the periodic maintenance
// job (run on start) run on one of them only, and each dispatch job runs on one replica
// only, so every order reaches its mall once.
func TestReplicas_periodicOnceAndEachJobOnce(t *testing.T) {
	db := migratedPostgres(t)
	url := listenURL(t, db)
	g := newRig(t, db, nil)
	replica := func(c *Config) {
		c.ListenURL = url
		c.PollInterval = time.Second
		c.Maintenance = g.st
		c.MaintenanceInterval = time.Hour
		if os.Getenv("FLEET_DEBUG") != "" {
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	var runners []*Runner
	for range 3 {
		runners = append(runners, g.replica(t, replica))
	}
	// Every replica's completions, through one channel.
	events := make(chan *river.Event, 1000)
	for _, r := range runners {
		ch, cancel := r.Subscribe(river.EventKindJobCompleted)
		t.Cleanup(cancel)
		go func() {
			for ev := range ch {
				events <- ev
			}
		}()
	}
	const n = 30
	placed := map[string]bool{}
	for i := range n {
		o := g.place(t, testOrder(fmt.Sprintf("R-%02d", i)))
		placed[string(o.OutOrderNo)] = true
	}
	// The maintenance job may have run before the subscriptions: it is read from river_job.
	maintenanceDone := func() int {
		var n int
		if err := g.sql.QueryRow(`SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, MaintenanceArgs{}.Kind()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	done := 0
	timeout := time.After(60 * time.Second)
	for done < n || maintenanceDone() < 1 {
		select {
		case ev := <-events:
			if ev.Job.Kind == (DispatchArgs{}).Kind() {
				done++
			}
		case <-time.After(100 * time.Millisecond):
		case <-timeout:
			t.Fatalf("after 60 s: %d of %d dispatches, %d maintenance runs", done, n, maintenanceDone())
		}
	}
	creates, _ := g.ccb.recorded()
	seen := map[string]int{}
	for _, c := range creates {
		seen[string(c.OutOrderNo)]++
	}
	for out := range placed {
		if seen[out] != 1 {
			t.Errorf("order %s created at the mall %d times, want once", out, seen[out])
		}
	}
	if len(creates) != n {
		t.Errorf("%d creates at the mall for %d orders", len(creates), n)
	}
	// Long enough for the other replicas to have run their own maintenance had they been
	// leaders too (each runs it on start): still one.
	time.Sleep(2 * time.Second)
	var runs int
	if err := g.sql.QueryRow(`SELECT count(*) FROM river_job WHERE kind = $1`, MaintenanceArgs{}.Kind()).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if done := maintenanceDone(); runs != 1 || done != 1 {
		t.Errorf("maintenance jobs: %d in river_job, %d completed; want 1 across 3 replicas", runs, done)
	}
	var states []string
	rows, err := g.sql.Query(`SELECT DISTINCT state FROM river_job WHERE kind = $1`, DispatchArgs{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		states = append(states, s)
	}
	if len(states) != 1 || states[0] != string(rivertype.JobStateCompleted) {
		t.Errorf("dispatch job states %v, want all completed", states)
	}
}
