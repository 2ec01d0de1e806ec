module github.com/wsengine/ws/bench

go 1.26.0

replace github.com/wsengine/ws => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/gobwas/ws v1.5.0
	github.com/gorilla/websocket v1.5.3
	github.com/klauspost/compress v1.17.9
	github.com/lxzan/gws v1.10.0
	github.com/wsengine/ws v0.0.0
)

require github.com/gobwas/httphead v0.1.0 // indirect
