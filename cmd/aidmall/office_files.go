package main

import (
	"context"

	"aidmall/households"
	"aidmall/imports"
	"aidmall/orders"
)

// officeFiles is every import for the aid office's pages (web.Config.Imports), through
// the same registry, linkage store and use cases as the import commands.
func officeFiles(a *app, svc *orders.Service) imports.Files {
	parsers := map[orders.Mall]imports.StatementParser{}
	for _, m := range drivers.Codes() {
		if d, ok := drivers.Driver(m); ok {
			parsers[m] = d.ParseStatement
		}
	}
	return imports.Files{
		Registry: func(ctx context.Context, kind households.Kind, year int) (*households.Registry, error) {
			var opts []households.RegistryOption
			if kind == households.KindBranches {
				opts = append(opts, households.WithBudgetYear(year))
			}
			return a.registry(ctx, kind == households.KindHouseholds, opts...)
		},
		Store: a.store, LinkageRegistry: linkageRegistry,
		Orders: svc, Audit: a.store, Statements: parsers,
	}
}
