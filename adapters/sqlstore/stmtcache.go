package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// SQLite statement cache.
//
// modernc.org/sqlite compiles every statement that database/sql and sqlx send ad hoc
// (conn.ExecContext / QueryContext): parsing and code generation took 15–17 % of the
// CPU of placing orders and applying notifications (docs/PERFORMANCE.md), all of it while
// holding the database's one connection, so every writer waited for it. A statement
// prepared once (conn.PrepareContext) keeps its compiled program and is reset, not
// finalized, after each use. stmtCacheConn keeps the prepared statements of the texts a
// connection runs, so that a hot query is compiled once per connection, whoever sends it
// (the API, River, the reports). PostgreSQL needs none of this: pgx caches prepared
// statements per connection itself.

// stmtCacheSize bounds the statements kept per connection. The service runs a few hundred
// distinct texts; generated ones (IN lists, multi-row inserts) differ by their length. The
// least recently used is evicted: evicting the first cached, as before, let a stream of
// one-off texts push out the hot statements, and the demo's year prepared each of them
// about five times (1,258 compilations of 686 texts, 0.36 s of the connection's time).
const stmtCacheSize = 512

// sqliteConnector opens modernc.org/sqlite connections on dsn, each with its statement
// cache.
type sqliteConnector struct{ dsn string }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	fc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite: the driver's connection lacks a context method this store relies on")
	}
	return &stmtCacheConn{sqliteConn: fc, stmts: map[string]*cachedStmt{}}, nil
}

func (sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// sqliteConn is what modernc.org/sqlite's connection implements and database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteRows is what modernc.org/sqlite's rows implement.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

type preparedStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachedStmt is one prepared statement of a connection. busy is set while it runs or its
// rows are open (a query of the same text meanwhile, e.g. inside a row loop, runs ad hoc);
// evicted while busy, it is closed when released.
type cachedStmt struct {
	stmt    preparedStmt
	used    uint64 // the connection's use count when it was last taken
	busy    bool
	evicted bool
}

// stmtCacheConn is a modernc.org/sqlite connection whose ExecContext and QueryContext
// run prepared statements kept by text. database/sql uses a connection from one goroutine
// at a time, so the cache needs no lock.
type stmtCacheConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
	uses  uint64 // statements taken so far: the clock of cachedStmt.used
}

// take returns the idle prepared statement of query, preparing and caching it if new; nil
// when it is busy or cannot be prepared (the caller then runs query ad hoc, which reports
// any error in it).
func (c *stmtCacheConn) take(ctx context.Context, query string) *cachedStmt {
	c.uses++
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil
		}
		cs.busy, cs.used = true, c.uses
		return cs
	}
	s, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	ps, ok := s.(preparedStmt)
	if !ok {
		s.Close()
		return nil
	}
	if len(c.stmts) >= stmtCacheSize {
		c.evictLeastRecent()
	}
	cs := &cachedStmt{stmt: ps, busy: true, used: c.uses}
	c.stmts[query] = cs
	return cs
}

// evictLeastRecent drops the statement taken longest ago (a scan of the cache, run only
// when a new text is compiled, which costs far more). One still busy is closed when
// released.
func (c *stmtCacheConn) evictLeastRecent() {
	var oldest string
	at, found := uint64(0), false
	for q, cs := range c.stmts {
		if !found || cs.used < at {
			oldest, at, found = q, cs.used, true
		}
	}
	o := c.stmts[oldest]
	delete(c.stmts, oldest)
	if o.busy {
		o.evicted = true
	} else {
		o.stmt.Close()
	}
}

func (cs *cachedStmt) release() {
	cs.busy = false
	if cs.evicted {
		cs.stmt.Close()
	}
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs := c.take(ctx, query)
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	defer cs.release()
	return cs.stmt.ExecContext(ctx, args)
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.take(ctx, query)
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	r, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		cs.release()
		return nil, err
	}
	fr, ok := r.(sqliteRows)
	if !ok {
		r.Close()
		cs.release()
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	return &cachedRows{sqliteRows: fr, cs: cs}, nil
}

// Close closes the cached statements, then the connection (SQLite closes no connection
// with statements outstanding).
func (c *stmtCacheConn) Close() error {
	for _, cs := range c.stmts {
		cs.stmt.Close()
	}
	c.stmts = nil
	return c.sqliteConn.Close()
}

// cachedRows releases its statement when closed.
type cachedRows struct {
	sqliteRows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	if r.cs == nil {
		return nil
	}
	err := r.sqliteRows.Close()
	r.cs.release()
	r.cs = nil
	return err
}
