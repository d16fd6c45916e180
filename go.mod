module github.com/wootric-go/wootric

go 1.24
