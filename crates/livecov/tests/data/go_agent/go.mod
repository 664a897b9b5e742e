module example.com/goagentfixture

go 1.20
