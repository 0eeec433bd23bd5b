package tokencache

import (
	"strconv"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := New(2)
	claims := map[string]any{"sub": "a"}
	c.Put("tok-a", claims, now.Add(time.Hour), now)
	if got, ok := c.Get("tok-a", now.Add(59*time.Minute)); !ok || got["sub"] != "a" {
		t.Fatalf("fresh entry: %v %v", got, ok)
	}
	if _, ok := c.Get("tok-a", now.Add(time.Hour-Margin)); ok {
		t.Error("served within Margin of exp")
	}
	if c.Len() != 0 {
		t.Errorf("stale entry kept: %d", c.Len())
	}
	c.Put("tok-b", claims, now.Add(Margin), now) // too close to exp
	if _, ok := c.Get("tok-b", now); ok {
		t.Error("a token within Margin of exp was stored")
	}
	for i := range 5 {
		c.Put("tok-"+strconv.Itoa(i), claims, now.Add(time.Hour), now)
	}
	if c.Len() != 2 {
		t.Errorf("bounded to 2, has %d", c.Len())
	}
	if _, ok := c.Get("tok-0", now); ok {
		t.Error("the least recently used entry was not evicted")
	}
	if _, ok := c.Get("tok-4", now); !ok {
		t.Error("the newest entry was evicted")
	}
}
