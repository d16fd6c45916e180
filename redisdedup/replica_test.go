//go:build unix

package redisdedup_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/redisdedup"
)

// TestWaitReplicasWithAReplica runs redis-server as a replica of the test
// server. Its clients' reads outlast a generous WaitTimeout: WAIT returns as
// soon as the replica acknowledges.
func TestWaitReplicasWithAReplica(t *testing.T) {
	ctx := context.Background()
	opt := redis.Options{Addr: client(t).Options().Addr, ReadTimeout: time.Minute}
	c := redis.NewClient(&opt)
	defer c.Close()
	replica, proc := startReplica(t, c)

	t.Run("acknowledged", func(t *testing.T) {
		hook := &countHook{}
		c.AddHook(hook)
		d := redisdedup.NewTestDedup(c)
		d.WaitReplicas, d.WaitTimeout = 1, 30*time.Second
		key := t.Name() + "/" + time.Now().Format(time.RFC3339Nano)
		res, tok, err := d.Claim(ctx, key, time.Minute)
		if err != nil || res != wootric.ClaimAcquired {
			t.Fatalf("Claim() with WaitReplicas 1 = %v, %v; want acquired", res, err)
		}
		if err := d.Complete(ctx, key, tok, time.Minute); err != nil {
			t.Fatalf("Complete() with WaitReplicas 1 = %v, want nil", err)
		}
		if n := hook.n.Load(); n != 2 {
			t.Errorf("Claim and Complete with WaitReplicas took %d round trips, want 2", n)
		}
		if got, err := replica.Get(ctx, d.Prefix+key).Result(); err != nil || got != "done:"+tok {
			t.Errorf("GET on the replica = %q, %v; want %q", got, err, "done:"+tok)
		}
	})

	// A call sent again on a new connection finds its write done, and
	// must wait for the replica to have it all the same.
	tests := []struct {
		name    string
		stopped bool // the replica is stopped, and acknowledges nothing
		timeout time.Duration
		want    error
	}{
		{"sent again, acknowledged", false, 30 * time.Second, nil},
		{"sent again, not acknowledged", true, 100 * time.Millisecond, wootric.ErrDedupStore},
	}
	plain := redisdedup.NewTestDedup(c)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stopped {
				if err := proc.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				defer proc.Signal(syscall.SIGCONT)
			}
			for _, lr := range lostReplies {
				key := t.Name() + "/" + lr.name + "/" + time.Now().Format(time.RFC3339Nano)
				var lost atomic.Bool
				d := redisdedup.NewTestDedup(lossyClient(t, opt, key, &lost))
				d.WaitReplicas, d.WaitTimeout = 1, tc.timeout
				err := lr.send(t, d, plain, key)
				if !lost.Load() {
					t.Fatalf("no reply to %s was lost, so go-redis did not send it again", lr.name)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("%s() with its first reply lost and WaitReplicas 1 = %v, want %v", lr.name, err, tc.want)
				}
			}
		})
	}
}

// startReplica starts redis-server as a replica of the server of primary,
// waits until the primary counts it online, and returns a client of it and
// its process. It stops the replica when the test ends, and the primary
// then drops it. It skips the test if redis-server is not installed.
func startReplica(t *testing.T, primary *redis.Client) (*redis.Client, *os.Process) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not in $PATH: this test runs it as a replica of the server at WOOTRIC_TEST_REDIS_ADDR")
	}
	host, port, err := net.SplitHostPort(primary.Options().Addr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	replicaPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	var log bytes.Buffer
	cmd := exec.Command(bin, "--port", replicaPort, "--bind", "127.0.0.1", "--replicaof", host, port,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("log of the replica on port %s:\n%s", replicaPort, log.Bytes())
		}
	})

	// The primary lists it as "slaveN:ip=...,port=...,state=online,...".
	online := ",port=" + replicaPort + ",state=online,"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for {
		info, err := primary.Info(context.Background(), "replication").Result()
		if err != nil {
			t.Fatalf("INFO replication: %v", err)
		}
		if strings.Contains(info, online) {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the replica on port %s exited: %v", replicaPort, waitErr)
		case <-deadline:
			t.Fatalf("the replica on port %s was not online within 2 minutes; INFO replication:\n%s", replicaPort, info)
		case <-tick.C:
		}
	}
	r := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", replicaPort)})
	t.Cleanup(func() { r.Close() })
	return r, cmd.Process
}
