package sqlstore

// Unexported parts the external tests (package sqlstore_test) check.

// Translate is translate.
func Translate(err error) error { return translate(err) }

// ViolatedKey is violatedKey.
func ViolatedKey(err error) string { return violatedKey(err) }

// KnownUniqueKey reports whether uniqueKeys lists the key table(cols), or the key is a
// generated id that needs no entry.
func KnownUniqueKey(table string, cols []string) (name string, ok bool) {
	if surrogateKey(cols) {
		return table + "_pkey", true
	}
	for _, k := range uniqueKeys {
		if k.table == table && len(k.cols) == len(cols) {
			same := true
			for i := range cols {
				same = same && k.cols[i] == cols[i]
			}
			if same {
				return k.name, true
			}
		}
	}
	return "", false
}
