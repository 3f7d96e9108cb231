package registryfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/registryfile"
)

// BenchmarkCSVRows reads a household export of 100,000 rows as the import streams it
// (GB18030, CRLF, like the county's): the decoder's share of an import's time.
func BenchmarkCSVRows(b *testing.B) {
	var text bytes.Buffer
	text.WriteString("户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度,联系电话\r\n")
	for i := range 100000 {
		fmt.Fprintf(&text, "0630%07d,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,2018,18966800067\r\n", i)
	}
	file, err := simplifiedchinese.GB18030.NewEncoder().Bytes(text.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		src, err := registryfile.SheetRows(bytes.NewReader(file), "户")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, bad, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || bad != nil {
				b.Fatal(err, bad)
			}
			n++
		}
		if n != 100001 {
			b.Fatalf("%d rows", n)
		}
	}
}
