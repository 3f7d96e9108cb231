package api

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/adapters/xlsxreport"
	"aidmall/reports"
)

// The media types of the report formats.
const (
	contentTypeCSV        = "text/csv; charset=utf-8"
	contentTypeCSVGB18030 = "text/csv; charset=gb18030"
	contentTypeXLSX       = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	mediaCSV              = "text/csv"
	mediaJSON             = "application/json"
)

// reportOutput is how a report is to be written: its format (json, csv or xlsx) and, for
// CSV, the charset and whether the headers are English.
type reportOutput struct {
	Format  string // "json", "csv", "xlsx"
	Charset reports.Charset
	English bool
}

// reportOutputParams are the query parameters every report endpoint takes for its output;
// a report's own parser skips them (readReportOutput reads them).
var reportOutputParams = map[string]bool{"format": true, "charset": true, "headers": true}

// readReportOutput chooses a report's output from the query parameters format
// (json|csv|xlsx), charset (utf-8|gb18030, CSV only) and headers (zh|en, CSV only), and
// without format from the Accept header: the offered type (application/json, text/csv,
// the XLSX type) it gives the highest quality, JSON on a tie or without Accept; a
// text/csv range may name charset=gb18030. Bad parameters are fieldProblems (a 400); an
// Accept that accepts none of the three is a 406 problem (format= always wins).
func readReportOutput(params url.Values, accept string) (reportOutput, []fieldProblem, *problem) {
	var errs []fieldProblem
	bad := func(name, detail string) { errs = append(errs, fieldProblem{Parameter: name, Detail: detail}) }
	one := func(name string) string {
		vs := params[name]
		if len(vs) > 1 {
			bad(name, "give this parameter once")
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	out := reportOutput{Charset: reports.UTF8BOM}
	format, charset, headers := one("format"), one("charset"), one("headers")
	switch strings.ToLower(format) {
	case "", "json", "csv", "xlsx":
		out.Format = strings.ToLower(format)
	default:
		bad("format", "must be json, csv or xlsx")
	}
	if charset != "" {
		cs, err := reports.ParseCharset(charset)
		if err != nil {
			bad("charset", "must be utf-8 or gb18030")
		}
		out.Charset = cs
	}
	switch strings.ToLower(headers) {
	case "", "zh":
	case "en":
		out.English = true
	default:
		bad("headers", "must be zh or en")
	}
	if len(errs) > 0 {
		return out, errs, nil
	}
	if out.Format == "" {
		f, cs, ok := negotiateReport(accept)
		if !ok {
			return out, nil, &problem{status: http.StatusNotAcceptable, slug: "not-acceptable", title: "No acceptable format",
				detail: "reports are application/json, text/csv (charset utf-8 or gb18030) or " + contentTypeXLSX + "; or ask with format=json|csv|xlsx"}
		}
		out.Format = f
		if charset == "" && cs != "" {
			out.Charset = cs
		}
	}
	if out.Format != "csv" && (charset != "" || headers != "") {
		name := "charset"
		if charset == "" {
			name = "headers"
		}
		return out, []fieldProblem{{Parameter: name, Detail: "applies to format=csv only"}}, nil
	}
	return out, nil, nil
}

// negotiateReport picks a report format from an Accept header (RFC 9110 §12.5.1): each of
// application/json, text/csv and the XLSX type takes the quality of the most specific range
// that matches it (type/subtype, then type/*, then */*); the highest quality wins, JSON
// then CSV on ties. An empty Accept is JSON. ok is false when every format has quality 0.
// The charset is that of the text/csv range that chose CSV (gb18030 or utf-8), or "".
func negotiateReport(accept string) (format string, charset reports.Charset, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return "json", "", true
	}
	offers := []struct{ format, typ string }{{"json", mediaJSON}, {"csv", mediaCSV}, {"xlsx", contentTypeXLSX}}
	best, bestQ := "", 0.0
	for _, o := range offers {
		q, spec := 0.0, -1
		var cs reports.Charset
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			s := -1
			switch {
			case mt == o.typ:
				s = 2
			case strings.HasSuffix(mt, "/*") && strings.HasPrefix(o.typ, strings.TrimSuffix(mt, "*")):
				s = 1
			case mt == "*/*":
				s = 0
			}
			if s < spec || s < 0 {
				continue
			}
			pq := 1.0
			if v, has := params["q"]; has {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f > 1 {
					continue
				}
				pq = f
			}
			if c, err := reports.ParseCharset(params["charset"]); err == nil && s == 2 {
				cs = c
			} else if s == 2 {
				continue // a charset we cannot write
			}
			q, spec = pq, s
		}
		if q > bestQ {
			best, bestQ, charset = o.format, q, ""
			if o.format == "csv" {
				charset = cs
			}
		}
	}
	return best, charset, best != ""
}

// sendReport writes a report in the chosen output: JSON with its own field names, or the
// report's document (reports.DocumentOf: a Tabular lays itself out) as CSV or XLSX, sent
// as an attachment named after the report and its parameters (RFC 6266 with an RFC 5987
// UTF-8 filename*). name is the report's short English name ("benefit").
func (s *Server) sendReport(c echo.Context, name string, v any, out reportOutput) error {
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)
	var buf bytes.Buffer
	if out.Format == "json" || out.Format == "" {
		if err := reports.WriteJSONValue(&buf, v); err != nil {
			return fmt.Errorf("render %s json: %w", name, err)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf.Bytes())
	}
	doc, err := reports.DocumentOf(v, name)
	if err != nil {
		return err
	}
	contentType := contentTypeXLSX
	switch out.Format {
	case "csv":
		if err := reports.WriteCSVDocument(&buf, doc, reports.CSVOptions{Charset: out.Charset, English: out.English}); err != nil {
			return fmt.Errorf("render %s csv: %w", name, err)
		}
		contentType = contentTypeCSV
		if out.Charset == reports.GB18030 {
			contentType = contentTypeCSVGB18030
		}
	case "xlsx":
		if err := xlsxreport.Write(&buf, doc, s.now()); err != nil {
			return fmt.Errorf("render %s xlsx: %w", name, err)
		}
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, contentDisposition(doc.FileName(out.Format, false), doc.FileName(out.Format, true)))
	return c.Blob(http.StatusOK, contentType, buf.Bytes())
}

// contentDisposition is an attachment header with an ASCII filename for old clients and
// the UTF-8 one as filename* (RFC 6266 §4.3, RFC 5987 encoding).
func contentDisposition(ascii, utf8Name string) string {
	var sb strings.Builder
	for _, r := range ascii {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			r = '_'
		}
		sb.WriteRune(r)
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, sb.String(), rfc5987(utf8Name))
}

// rfc5987 percent-encodes s's UTF-8 bytes except RFC 5987's attr-char.
func rfc5987(s string) string {
	const attr = "!#$&+-.^_`|~"
	var sb strings.Builder
	for _, b := range []byte(s) {
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte(attr, b) >= 0 {
			sb.WriteByte(b)
		} else {
			fmt.Fprintf(&sb, "%%%02X", b)
		}
	}
	return sb.String()
}
