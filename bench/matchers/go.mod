module github.com/greengate/greengate/bench/matchers

go 1.26.0

require (
	github.com/AdguardTeam/urlfilter v0.5.0
	github.com/greengate/greengate v0.0.0
)

require (
	github.com/AdguardTeam/golibs v0.1.3 // indirect
	github.com/asaskevich/govalidator v0.0.0-20180720115003-f9ffefc3facf // indirect
	github.com/joomcode/errorx v0.8.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/greengate/greengate => ../..
