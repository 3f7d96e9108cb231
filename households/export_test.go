package households

// Names the external test package (households_test, which runs on the production store
// through sqltest) shares with this package's own tests.
var (
	BundleDir             = bundleDir
	OpenBundle            = openBundle
	HHHeader              = hhHeader
	GoodRow               = goodRow
	TestNow               = testNow
	BundleHouseholdErrors = bundleHouseholdErrors
	ErrUnknownHousehold   = errUnknownHousehold
	ErrUnknownSupplier    = errUnknownSupplier
)
