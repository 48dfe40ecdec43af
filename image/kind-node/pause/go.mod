module krill.local/pause

go 1.24
