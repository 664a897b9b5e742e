module livecov.dev/agents/go

go 1.20
