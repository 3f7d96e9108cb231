package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"aidmall/adapters/xlsxreport"
	"aidmall/reports"
)

// Every table on a page is a reports.Table of a reports.Document, the same model the API's
// CSV and XLSX exports and the CLI use; so a table's download has exactly the figures the
// page shows. A page handler builds its Document, calls download first (which answers
// ?format=csv|xlsx[&table=N] with the file), then renders the page, whose template shows
// each table with {{template "table" (tableView $ .Doc N)}} (templates/layout.html).

// download answers a request for a page's tables as a file: ?format=xlsx or csv, the whole
// Document, or only its table N with &table=N (0-based). It reports false when the
// request asks for the page itself (no format).
func (s *Server) download(c echo.Context, doc reports.Document) (bool, error) {
	format := c.QueryParam("format")
	if format == "" {
		return false, nil
	}
	if t := c.QueryParam("table"); t != "" {
		i, err := strconv.Atoi(t)
		if err != nil || i < 0 || i >= len(doc.Tables) {
			return true, s.notFound(c)
		}
		doc.Tables = []reports.Table{doc.Tables[i]}
	}
	var buf bytes.Buffer
	var contentType string
	switch format {
	case "csv":
		if err := reports.WriteCSVDocument(&buf, doc, reports.CSVOptions{Charset: reports.UTF8BOM}); err != nil {
			return true, s.fail(c, fmt.Errorf("csv %s: %w", doc.Report, err))
		}
		contentType = "text/csv; charset=utf-8"
	case "xlsx":
		if err := xlsxreport.Write(&buf, doc, s.now()); err != nil {
			return true, s.fail(c, fmt.Errorf("xlsx %s: %w", doc.Report, err))
		}
		contentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	default:
		return true, s.notFound(c)
	}
	name := doc.FileName(format, true)
	c.Response().Header().Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, doc.FileName(format, false), url.PathEscape(name)))
	return true, c.Blob(http.StatusOK, contentType, buf.Bytes())
}

// tableView is what the "table" template needs: the table, and the links that download it
// (the page's own address with format and table added).
type tableView struct {
	Table reports.Table
	XLSX  template.URL
	CSV   template.URL
}

// tableOf returns table i of doc with its download links for the page at u.
func tableOf(u *url.URL, doc reports.Document, i int) tableView {
	link := func(format string) template.URL {
		q := u.Query()
		q.Set("format", format)
		q.Set("table", strconv.Itoa(i))
		return template.URL(u.Path + "?" + q.Encode())
	}
	return tableView{Table: doc.Tables[i], XLSX: link("xlsx"), CSV: link("csv")}
}

// cell writes a report value for a page: money as ¥1,234.56, the rest as its text.
func cell(v reports.Value) string {
	if v.Kind() == reports.KindMoney {
		return yuan(v.Fen())
	}
	return v.String()
}

// tablesOf returns every table of doc with its download links, for the page of c.
func (s *Server) tablesOf(c echo.Context, doc reports.Document) []tableView {
	views := make([]tableView, len(doc.Tables))
	for i := range doc.Tables {
		views[i] = tableOf(c.Request().URL, doc, i)
	}
	return views
}
