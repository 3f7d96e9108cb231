package api

// Exported for the external test package api_test, whose tests run on the production store
// (sqlstore imports api, so only an external test package may import sqlstore).

type (
	ProblemBody  = problemBody
	FieldProblem = fieldProblem
	OrderJSON    = orderJSON
)

const (
	ContentTypeCSV       = contentTypeCSV
	ContentTypeXLSX      = contentTypeXLSX
	ContentTypeProblem   = contentTypeProblem
	ProblemTypeBase      = problemTypeBase
	MaxIdempotencyKeyLen = maxIdempotencyKeyLen
)

var (
	DecodePlaceRequest  = decodePlaceRequest
	ProblemFor          = problemFor
	Fingerprint         = fingerprint
	ParseIdempotencyKey = parseIdempotencyKey
	NegotiateReport     = negotiateReport
	ContentDisposition  = contentDisposition
	OpenAPIFor          = openAPIFor
	FillOpenAPI         = fillOpenAPI
	OpenAPIDocument     = openAPIDocument
)
