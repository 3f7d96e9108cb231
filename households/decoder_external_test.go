package households_test

import (
	"aidmall/adapters/registryfile"
	"aidmall/households"
)

// The package's tests read real files through the real decoder.
func init() { households.SetTestDecoder(registryfile.Decoder{}) }
