// Package examples embeds the data bundles that ship with aidmall, so that `aidmall demo`
// runs on a fresh machine with no path to give. The bundles are copies of
// shared/data, never edited here either.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed yichuan-dingbian-2019
var bundles embed.FS

// YichuanDingbian2019 is a year of consumption-aid purchasing from Yichuan (宜川县) and
// Dingbian (定边县) counties: registry, catalogue, orders and both malls' statements.
func YichuanDingbian2019() fs.FS {
	sub, err := fs.Sub(bundles, "yichuan-dingbian-2019")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
