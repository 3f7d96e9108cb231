package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/households"
	"aidmall/imports"
	"aidmall/malls"
	"aidmall/orders"
	"aidmall/reports"
)

// registryKinds are the registry and catalogue files one can upload, in Chinese.
var registryKinds = []struct {
	Kind  households.Kind
	Label string
}{
	{households.KindHouseholds, "建档立卡贫困户名录（CSV 或 XLSX）"},
	{households.KindBranches, "工会单位（含预算）"},
	{households.KindSuppliers, "供应商"},
	{households.KindProducts, "商品"},
}

func kindName(k households.Kind) string {
	switch k {
	case households.KindLinkages:
		return "利益联结"
	}
	for _, r := range registryKinds {
		if r.Kind == k {
			return r.Label
		}
	}
	return string(k)
}

type importsData struct {
	Kinds []struct {
		Kind  households.Kind
		Label string
	}
	Malls  []MallName
	Year   int
	Result *importResult
}

// importResult is what one upload did, for the page: a summary, each bad row (file, row,
// field, reason) as downloadable tables, and for a linkages dry run the form to confirm.
type importResult struct {
	Title   string
	Lines   []string
	Stored  bool // false: nothing was stored (a dry run, or refused)
	Tables  []tableView
	Confirm *linkageConfirm
}

// linkageConfirm carries a dry-run linkages file to its confirm step: the file itself
// (base64) and its SHA-256, which the confirm checks, so the file imported is the one
// tried.
type linkageConfirm struct {
	Name, Content, SHA256 string
	Strict                bool
}

// importsPage is GET /office/imports: the upload forms.
func (s *Server) importsPage(c echo.Context) error {
	return s.showImports(c, http.StatusOK, nil, "")
}

func (s *Server) showImports(c echo.Context, status int, r *importResult, errMsg string) error {
	d := importsData{Kinds: registryKinds, Malls: s.cfg.Malls, Year: s.thisYear(), Result: r}
	return s.render(c, status, "office_imports.html", Page{Title: "导入", Active: "/office/imports", Error: errMsg, Data: d})
}

// uploaded is one file of an upload.
type uploaded struct {
	Name string
	Data []byte
}

// upload reads the multipart form (bounded by maxUpload) and the files named; a missing
// file or an upload too large is a message for the person.
func (s *Server) upload(c echo.Context, fields ...string) (map[string]uploaded, string) {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxUpload)
	if err := req.ParseMultipartForm(maxUpload); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Sprintf("文件过大：每次上传不超过 %d MB。", maxUpload>>20)
		}
		return nil, "请选择要上传的文件。"
	}
	out := map[string]uploaded{}
	for _, f := range fields {
		fh, err := c.FormFile(f)
		if err != nil {
			return nil, "请选择要上传的文件。"
		}
		file, err := fh.Open()
		if err != nil {
			return nil, "无法读取上传的文件，请重试。"
		}
		b, err := io.ReadAll(file)
		file.Close()
		if err != nil {
			return nil, "无法读取上传的文件，请重试。"
		}
		out[f] = uploaded{Name: path.Base(strings.ReplaceAll(fh.Filename, `\`, "/")), Data: b}
	}
	return out, ""
}

// fileRefusal is the page's message for an import's error that is the file's fault (a
// file that cannot be read at all), ok false for a failure.
func fileRefusal(err error) (string, bool) {
	var pe *households.ParseError
	if errors.As(err, &pe) {
		return "无法读取文件 " + pe.File + "：" + pe.Reason, true
	}
	return "", false
}

// rowErrorsTable is a registry report's row errors (or warnings) as a table.
func rowErrorsTable(name string, file string, es []households.RowError) reports.Table {
	t := reports.Table{Name: name, Columns: []reports.Column{{Name: "file", Title: "文件"}, {Name: "row", Title: "行号", Kind: reports.KindInt},
		{Name: "column", Title: "字段"}, {Name: "value", Title: "内容"}, {Name: "reason", Title: "原因"}}, Rows: [][]reports.Value{}}
	for _, e := range es {
		t.Rows = append(t.Rows, []reports.Value{reports.Text(file), reports.Int(int64(e.Row)), reports.Text(e.Column), reports.Text(e.Value), reports.Text(e.Reason)})
	}
	return t
}

// registryResult lays a registry report out for the page.
func registryResult(rep households.Report) (importResult, reports.Document) {
	r := importResult{Title: kindName(rep.Kind) + "：" + rep.File, Stored: !rep.Refused && rep.Loaded > 0}
	removed := ""
	if rep.Counts.Removed > 0 {
		removed = fmt.Sprintf("，移除 %d", rep.Counts.Removed)
	}
	r.Lines = append(r.Lines, fmt.Sprintf("读取 %d 行，载入 %d 行：新增 %d，更新 %d，未变 %d%s；错误 %d 行。",
		rep.Rows, rep.Loaded, rep.Counts.Inserted, rep.Counts.Updated, rep.Counts.Unchanged, removed, len(rep.Errors)))
	if len(rep.Warnings) > 0 {
		r.Lines = append(r.Lines, fmt.Sprintf("提醒 %d 行（已载入，请核对）。", len(rep.Warnings)))
	}
	if rep.Note != "" && !rep.Refused {
		r.Lines = append(r.Lines, "说明："+rep.Note)
	}
	if rep.Refused {
		r.Lines = append(r.Lines, fmt.Sprintf("严格模式：有 %d 行错误，整个文件未导入，未保存任何数据。", len(rep.Errors)))
	}
	doc := reports.Document{Report: "import-" + string(rep.Kind), Title: "导入结果",
		Params: []reports.Field{{Name: "file", Title: "文件", Value: reports.Text(rep.File)}},
		Tables: []reports.Table{rowErrorsTable("错误行", rep.File, rep.Errors)}}
	if len(rep.Warnings) > 0 {
		doc.Tables = append(doc.Tables, rowErrorsTable("提醒", rep.File, rep.Warnings))
	}
	return r, doc
}

// finish renders a result with its tables downloadable as files of their own.
func (s *Server) finish(c echo.Context, r importResult, doc reports.Document) error {
	views, err := s.inlineTables(doc)
	if err != nil {
		return s.fail(c, err)
	}
	r.Tables = views
	status := http.StatusOK
	if !r.Stored && r.Confirm == nil {
		status = http.StatusUnprocessableEntity
	}
	return s.showImports(c, status, &r, "")
}

// importRegistry is POST /office/imports/registry (kind, file, strict, budget_year): one
// registry or catalogue file through households.Registry, as aidmall import KIND FILE.
func (s *Server) importRegistry(c echo.Context) error {
	files, msg := s.upload(c, "file")
	if msg != "" {
		return s.showImports(c, http.StatusBadRequest, nil, msg)
	}
	kind := households.Kind(c.FormValue("kind"))
	if _, err := households.ParseKind(string(kind)); err != nil || kind == households.KindLinkages {
		return s.showImports(c, http.StatusBadRequest, nil, "请选择文件类别。")
	}
	year := 0
	if v := strings.TrimSpace(c.FormValue("budget_year")); v != "" {
		y, err := strconv.Atoi(v)
		if err != nil {
			return s.showImports(c, http.StatusBadRequest, nil, "预算年度应为四位年份，如 2019。")
		}
		year = y
	}
	ctx, _ := acting(c)
	f := files["file"]
	rep, err := s.cfg.Imports.Import(ctx, kind, f.Name, bytes.NewReader(f.Data), c.FormValue("strict") != "", year)
	if errors.Is(err, imports.ErrNoBudgetYear) {
		return s.showImports(c, http.StatusUnprocessableEntity, nil,
			fmt.Sprintf("工会单位文件的预算列属于哪一年？请填写预算年度（%d 至 %d）。", orders.MinBudgetYear, orders.MaxBudgetYear))
	}
	if err != nil {
		if m, ok := fileRefusal(err); ok {
			return s.showImports(c, http.StatusUnprocessableEntity, nil, m)
		}
		return s.fail(c, err)
	}
	r, doc := registryResult(rep)
	return s.finish(c, r, doc)
}

// changesTables are what a linkages import moves in the ledger, per month and per
// household and month (closed months first), as the CLI prints them.
func changesTables(ch orders.Changes) []reports.Table {
	per := reports.Table{Name: "按月份", Columns: []reports.Column{{Name: "month", Title: "月份"}, {Name: "state", Title: "状态"},
		{Name: "gained", Title: "增加", Kind: reports.KindMoney}, {Name: "lost", Title: "减少", Kind: reports.KindMoney},
		{Name: "net", Title: "净额", Kind: reports.KindMoney}}, Rows: [][]reports.Value{}}
	for _, p := range ch.Periods() {
		state := "未结账"
		if p.Closed {
			state = "已结账 → 调整日 " + ch.AdjustmentDay.String()
		}
		per.Rows = append(per.Rows, []reports.Value{reports.Text(p.Month), reports.Text(state), reports.Money(p.Gained), reports.Money(p.Lost), reports.Money(p.Net)})
	}
	hh := reports.Table{Name: "按户和月份", Columns: []reports.Column{{Name: "household_no", Title: "户编号"}, {Name: "month", Title: "月份"},
		{Name: "state", Title: "状态"}, {Name: "amount", Title: "金额", Kind: reports.KindMoney}}, Rows: [][]reports.Value{}}
	for _, r := range ch.Rows {
		no, state := string(r.HouseholdNo), "未结账"
		if no == "" {
			no = "未归属"
		}
		if r.Closed {
			state = "已结账"
		}
		hh.Rows = append(hh.Rows, []reports.Value{reports.Text(no), reports.Text(r.Month), reports.Text(state), reports.Money(r.Amount)})
	}
	return []reports.Table{per, hh}
}

// linkagesResult lays a linkages import (or its dry run) out for the page.
func linkagesResult(rep households.Report, ch orders.Changes, dryRun bool) (importResult, reports.Document) {
	r, doc := registryResult(rep)
	verb := "变动"
	if dryRun {
		r.Title = "试运行 · " + r.Title
		r.Lines = append([]string{"试运行：未保存任何数据。此文件将会："}, r.Lines...)
		r.Stored, verb = false, "将变动"
	}
	if len(ch.Rows) == 0 {
		r.Lines = append(r.Lines, "台账："+verb+"为零（没有资金移动）。")
	} else {
		r.Lines = append(r.Lines, "台账"+verb+"如下表（按月份，及按户和月份）。")
		if ch.ToAdjustment != 0 {
			r.Lines = append(r.Lines, fmt.Sprintf("记入调整日 %s：%s（净额 %s）；已结账期间的数字保持不变。", ch.AdjustmentDay, yuan(ch.ToAdjustment), yuan(ch.AdjustmentNet)))
		}
	}
	doc.Tables = append(doc.Tables, changesTables(ch)...)
	return r, doc
}

// importLinkages is POST /office/imports/linkages (file, strict): the dry run, as aidmall
// import linkages --dry-run: what the file would change per household and period, and how
// much money would move, with a form to confirm.
func (s *Server) importLinkages(c echo.Context) error {
	files, msg := s.upload(c, "file")
	if msg != "" {
		return s.showImports(c, http.StatusBadRequest, nil, msg)
	}
	f, strict := files["file"], c.FormValue("strict") != ""
	ctx, _ := acting(c)
	rep, ch, err := s.cfg.Imports.Linkages(ctx, f.Name, bytes.NewReader(f.Data), strict, true)
	if err != nil {
		if m, ok := fileRefusal(err); ok {
			return s.showImports(c, http.StatusUnprocessableEntity, nil, m)
		}
		return s.fail(c, err)
	}
	r, doc := linkagesResult(rep, ch, true)
	if !rep.Refused {
		sum := sha256.Sum256(f.Data)
		r.Confirm = &linkageConfirm{Name: f.Name, Content: base64.StdEncoding.EncodeToString(f.Data), SHA256: hex.EncodeToString(sum[:]), Strict: strict}
	}
	return s.finish(c, r, doc)
}

// confirmLinkages is POST /office/imports/linkages/confirm (name, content, sha256,
// strict): the import of the file tried in the dry run.
func (s *Server) confirmLinkages(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, 2*maxUpload)
	if err := req.ParseMultipartForm(2 * maxUpload); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return s.showImports(c, http.StatusBadRequest, nil, "确认表单无法读取，请重新上传文件。")
	}
	data, err := base64.StdEncoding.DecodeString(c.FormValue("content"))
	sum := sha256.Sum256(data)
	if err != nil || hex.EncodeToString(sum[:]) != c.FormValue("sha256") {
		return s.showImports(c, http.StatusBadRequest, nil, "确认的文件与试运行的文件不一致，请重新上传文件。")
	}
	name := path.Base(c.FormValue("name"))
	ctx, _ := acting(c)
	rep, ch, err := s.cfg.Imports.Linkages(ctx, name, bytes.NewReader(data), c.FormValue("strict") != "", false)
	if err != nil {
		if m, ok := fileRefusal(err); ok {
			return s.showImports(c, http.StatusUnprocessableEntity, nil, m)
		}
		return s.fail(c, err)
	}
	r, doc := linkagesResult(rep, ch, false)
	r.Title = "已导入 · " + r.Title
	return s.finish(c, r, doc)
}

// importOrders is POST /office/imports/orders (orders_file, lines_file): order history,
// as aidmall import orders DIR.
func (s *Server) importOrders(c echo.Context) error {
	files, msg := s.upload(c, "orders_file", "lines_file")
	if msg != "" {
		return s.showImports(c, http.StatusBadRequest, nil, "请选择订单文件（orders.csv）和订单行文件（order_lines.csv）。")
	}
	ctx, caller := acting(c)
	rep, err := s.cfg.Imports.History(ctx, caller, bytes.NewReader(files["orders_file"].Data), bytes.NewReader(files["lines_file"].Data))
	if err != nil {
		if orders.ErrorKind(err) == nil && !errors.Is(err, io.ErrUnexpectedEOF) && strings.Contains(err.Error(), ".csv") {
			return s.showImports(c, http.StatusUnprocessableEntity, nil, "无法读取 CSV 文件："+err.Error())
		}
		return s.fail(c, err)
	}
	r := importResult{Title: "历史订单：" + files["orders_file"].Name + "、" + files["lines_file"].Name, Stored: rep.Created > 0 || rep.Unchanged > 0}
	r.Lines = append(r.Lines, fmt.Sprintf("读取 %d 个订单，载入 %d 个，已有 %d 个；错误 %d 条。", rep.Rows, rep.Created, rep.Unchanged, len(rep.Errors)))
	t := reports.Table{Name: "错误行", Columns: []reports.Column{{Name: "file", Title: "文件"}, {Name: "row", Title: "行号", Kind: reports.KindInt},
		{Name: "order_ref", Title: "订单编号"}, {Name: "field", Title: "字段"}, {Name: "reason", Title: "原因"}}, Rows: [][]reports.Value{}}
	for _, e := range rep.Errors {
		field, reason := e.Field, e.Reason
		var ve *orders.ValidationError
		if errors.As(e.Err, &ve) {
			var fs, rs []string
			for _, f := range ve.Fields {
				fs, rs = append(fs, f.Pointer), append(rs, f.Pointer+"："+zhDetail(f.Detail))
			}
			field, reason = strings.Join(fs, "、"), strings.Join(rs, "；")
		} else if e.Err != nil {
			reason = zhMessage(orders.ErrorMessage(e.Err))
		}
		t.Rows = append(t.Rows, []reports.Value{reports.Text(e.File), reports.Int(int64(e.Row)), reports.Text(e.Ref), reports.Text(field), reports.Text(reason)})
	}
	return s.finish(c, r, reports.Document{Report: "import-orders", Title: "导入结果", Tables: []reports.Table{t}})
}

// importStatement is POST /office/imports/statement (mall, file): a mall's statement, as
// aidmall import statement FILE --mall M.
func (s *Server) importStatement(c echo.Context) error {
	files, msg := s.upload(c, "file")
	if msg != "" {
		return s.showImports(c, http.StatusBadRequest, nil, msg)
	}
	mall := orders.Mall(c.FormValue("mall"))
	known := false
	for _, m := range s.cfg.Malls {
		known = known || m.Code == mall
	}
	if !known {
		return s.showImports(c, http.StatusBadRequest, nil, "请选择商城。")
	}
	f := files["file"]
	ctx, _ := acting(c)
	rep, err := s.cfg.Imports.Statement(ctx, mall, f.Name, bytes.NewReader(f.Data))
	if err != nil {
		if fe, ok := refusal(err); ok {
			return s.showImports(c, http.StatusUnprocessableEntity, nil, "对账单未能全部导入："+fe.Message)
		}
		if rep.SHA256 == "" && orders.ErrorKind(err) == nil {
			return s.showImports(c, http.StatusUnprocessableEntity, nil, "无法读取对账单文件 "+f.Name+"：请确认商城和文件格式。")
		}
		return s.fail(c, err)
	}
	t := rep.Tally
	r := importResult{Title: "商城对账单：" + f.Name, Stored: true}
	r.Lines = append(r.Lines, fmt.Sprintf("%d 个事件：生效 %d，暂挂待复核 %d，已有 %d，等待订单 %d；无法读取 %d 行。",
		rep.Events, t.Applied, t.Held, t.Duplicate, t.Parked, len(rep.Bad)))
	if len(rep.Differing) > 0 {
		// An event id already recorded, sent again with other content: the recorded event
		// stands (imports.StatementReport.Differing).
		r.Lines = append(r.Lines, fmt.Sprintf("其中 %d 个事件编号已记录、但本文件内容不同，未生效（以已记录的为准），请核查：", len(rep.Differing)))
		r.Lines = append(r.Lines, rep.Differing...)
	}
	bad := reports.Table{Name: "无法读取的行", Columns: []reports.Column{{Name: "file", Title: "文件"}, {Name: "row", Title: "行号", Kind: reports.KindInt},
		{Name: "column", Title: "字段"}, {Name: "reason", Title: "原因"}}, Rows: [][]reports.Value{}}
	for _, b := range rep.Bad {
		var re malls.RowError
		if errors.As(b, &re) {
			bad.Rows = append(bad.Rows, []reports.Value{reports.Text(f.Name), reports.Int(int64(re.Row)), reports.Text(re.Column), reports.Text(re.Reason)})
		} else {
			bad.Rows = append(bad.Rows, []reports.Value{reports.Text(f.Name), reports.Int(0), reports.Text(""), reports.Text(b.Error())})
		}
	}
	return s.finish(c, r, reports.Document{Report: "import-statement", Title: "导入结果", Tables: []reports.Table{bad}})
}
