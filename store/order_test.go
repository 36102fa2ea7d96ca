package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

// TestOrderAuthzChallenge creates an order with two authorizations and
// their challenges and reads everything back.
func TestOrderAuthzChallenge(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		expires := epoch.Add(30 * 24 * time.Hour)
		notAfter := epoch.Add(90 * 24 * time.Hour)
		order := newOrder("order-1", "acct-1")
		order.NotAfter = &notAfter
		order.Profile = "tls-server"
		order.CSR = []byte{0x30, 0x82, 0x00, 0xff}
		authzs := []*store.Authorization{
			{ID: "authz-a", AccountID: "acct-1", IdentifierType: "dns",
				IdentifierValue: "www.example.com", Status: "pending", Expires: expires},
			{ID: "authz-b", AccountID: "acct-1", IdentifierType: "dns",
				IdentifierValue: "example.com", Wildcard: true, Status: "pending",
				Expires: expires},
		}
		transact(t, s, func(tx *store.Tx) error {
			for _, a := range authzs {
				// Offered out of position order on purpose.
				challenges := []store.Challenge{
					{ID: a.ID + "-dns", Type: "dns-01", Token: "tok-dns", Status: "pending",
						Position: 1},
					{ID: a.ID + "-http", Type: "http-01", Token: "tok-http", Status: "pending",
						Position: 0},
				}
				if err := tx.CreateAuthorization(a, challenges); err != nil {
					return err
				}
			}
			return tx.CreateOrder(order, []string{"authz-b", "authz-a"})
		})

		r := s.Read(ctx)
		got, err := r.Order("order-1")
		if err != nil {
			t.Fatalf("Order: %v", err)
		}
		if got.AccountID != "acct-1" || got.Status != "pending" || got.Profile != "tls-server" ||
			got.Identifiers != order.Identifiers || !got.Expires.Equal(order.Expires) ||
			got.NotAfter == nil || !got.NotAfter.Equal(notAfter) || got.NotBefore != nil ||
			!reflect.DeepEqual(got.CSR, order.CSR) || !got.CreatedAt.Equal(epoch) {
			t.Errorf("Order: got %+v, want %+v", got, order)
		}

		ids, err := r.OrderAuthzIDs("order-1")
		if err != nil || !reflect.DeepEqual(ids, []string{"authz-a", "authz-b"}) {
			t.Errorf("OrderAuthzIDs: got %v, %v, want [authz-a authz-b]", ids, err)
		}
		orders, err := r.OrdersForAuthz("authz-b")
		if err != nil || !reflect.DeepEqual(orders, []string{"order-1"}) {
			t.Errorf("OrdersForAuthz: got %v, %v, want [order-1]", orders, err)
		}

		loaded, err := r.Authorizations(ids)
		if err != nil || len(loaded) != 2 {
			t.Fatalf("Authorizations: got %d, %v, want 2", len(loaded), err)
		}
		b := loaded[1]
		if b.ID != "authz-b" || b.IdentifierValue != "example.com" || !b.Wildcard ||
			b.Status != "pending" || !b.Expires.Equal(expires) {
			t.Errorf("Authorizations[1]: got %+v, want authz-b as created", b)
		}

		chs, err := r.Challenges("authz-a")
		if err != nil {
			t.Fatalf("Challenges: %v", err)
		}
		if gotTypes := challengeIDs(chs); !reflect.DeepEqual(gotTypes,
			[]string{"authz-a-http", "authz-a-dns"}) {
			t.Errorf("Challenges: got %v, want [authz-a-http authz-a-dns] (by position)", gotTypes)
		}
		all, err := r.ChallengesFor(ids)
		if err != nil || len(all) != 4 || all[0].AuthzID != "authz-a" {
			t.Errorf("ChallengesFor: got %v, %v, want 4 ordered by authorization",
				challengeIDs(all), err)
		}
		c, err := r.Challenge("authz-b-dns")
		if err != nil || c.AuthzID != "authz-b" || c.Token != "tok-dns" || c.Type != "dns-01" {
			t.Errorf("Challenge: got %+v, %v, want authz-b's dns-01", c, err)
		}

		empty, err := r.Authorizations(nil)
		if err != nil || len(empty) != 0 {
			t.Errorf("Authorizations(nil): got %v, %v, want none", empty, err)
		}
		for name, fn := range map[string]func() error{
			"order":         func() error { _, err := r.Order("nope"); return err },
			"authorization": func() error { _, err := r.Authorization("nope"); return err },
			"challenge":     func() error { _, err := r.Challenge("nope"); return err },
		} {
			checkErr(t, "unknown "+name, fn(), store.ErrNotFound)
		}
		checkErr(t, "duplicate order", s.Transact(ctx, func(tx *store.Tx) error {
			return tx.CreateOrder(newOrder("order-1", "acct-1"), nil)
		}), store.ErrConflict)
	})
}

func challengeIDs(chs []store.Challenge) []string {
	ids := make([]string, 0, len(chs))
	for _, c := range chs {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestSetOrderStatus(t *testing.T) {
	tests := []struct {
		name   string
		status string
		from   []string
		to     string
		fields map[string]any
		want   error
	}{
		{"ready to processing", "ready", []string{"ready"}, "processing", nil, nil},
		{"one of several", "ready", []string{"pending", "ready"}, "invalid",
			map[string]any{"error": `{"type":"x"}`}, nil},
		{"wrong state", "pending", []string{"ready"}, "processing", nil, store.ErrConflict},
		{"already there", "processing", []string{"ready"}, "processing", nil, store.ErrConflict},
		// With a frozen clock nothing changes in the row; the swap still
		// matched, so it must not report a conflict.
		{"same status allowed", "processing", []string{"processing"}, "processing", nil, nil},
		{"with certificate", "processing", []string{"processing"}, "valid",
			map[string]any{"certificate_serial": "0a0b"}, nil},
	}
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		for _, tt := range tests {
			o := newOrder("order-"+tt.name, "acct-1")
			o.Status = tt.status
			transact(t, s, func(tx *store.Tx) error { return tx.CreateOrder(o, nil) })

			err := s.Transact(ctx, func(tx *store.Tx) error {
				return tx.SetOrderStatus(o.ID, tt.from, tt.to, tt.fields)
			})
			checkErr(t, tt.name, err, tt.want)

			got, err := s.Read(ctx).Order(o.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.to
			if tt.want != nil {
				want = tt.status
			}
			if got.Status != want {
				t.Errorf("%s: status: got %q, want %q", tt.name, got.Status, want)
			}
			if s, ok := tt.fields["certificate_serial"]; ok && got.CertificateSerial != s {
				t.Errorf("%s: serial: got %q, want %q", tt.name, got.CertificateSerial, s)
			}
		}
		checkErr(t, "unknown order", s.Transact(ctx, func(tx *store.Tx) error {
			return tx.SetOrderStatus("nope", []string{"ready"}, "processing", nil)
		}), store.ErrConflict)
	})
}

// TestSetOrderStatusRace lets 20 finalize requests race for one ready
// order: exactly one may move it to processing.
func TestSetOrderStatusRace(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		o := newOrder("order-1", "acct-1")
		o.Status = "ready"
		transact(t, s, func(tx *store.Tx) error { return tx.CreateOrder(o, nil) })

		errs := race(20, func(i int) error {
			return s.Transact(context.Background(), func(tx *store.Tx) error {
				err := tx.SetOrderStatus(o.ID, []string{"ready"}, "processing", nil)
				if err != nil {
					return err
				}
				return tx.Audit(store.Event{Type: "order.processing", Subject: o.ID})
			})
		})
		checkOneWinner(t, errs, store.ErrConflict)
		got, err := s.Read(context.Background()).Order(o.ID)
		if err != nil || got.Status != "processing" {
			t.Errorf("order after race: got %+v, %v, want processing", got, err)
		}
		verifyIntact(t, s, 1)
	})
}

func TestAuthorizationAndChallengeStatus(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		a := &store.Authorization{ID: "authz-1", AccountID: "acct-1", IdentifierType: "dns",
			IdentifierValue: "example.com", Status: "pending", Expires: epoch.Add(time.Hour)}
		transact(t, s, func(tx *store.Tx) error {
			return tx.CreateAuthorization(a, []store.Challenge{
				{ID: "chall-1", Type: "http-01", Token: "tok", Status: "pending"},
			})
		})
		validated := epoch.Add(time.Minute)
		tests := []struct {
			name string
			fn   func(tx *store.Tx) error
			want error
		}{
			{"challenge pending to processing", func(tx *store.Tx) error {
				return tx.SetChallengeStatus("chall-1", []string{"pending"}, "processing", nil)
			}, nil},
			{"challenge retry", func(tx *store.Tx) error {
				return tx.SetChallengeStatus("chall-1", []string{"pending"}, "processing", nil)
			}, store.ErrConflict},
			{"challenge valid", func(tx *store.Tx) error {
				return tx.SetChallengeStatus("chall-1", []string{"processing"}, "valid",
					map[string]any{"validated_at": validated, "record": `{"url":"x"}`})
			}, nil},
			{"authz pending to valid", func(tx *store.Tx) error {
				return tx.SetAuthorizationStatus("authz-1", []string{"pending"}, "valid")
			}, nil},
			{"authz again", func(tx *store.Tx) error {
				return tx.SetAuthorizationStatus("authz-1", []string{"pending"}, "valid")
			}, store.ErrConflict},
		}
		for _, tt := range tests {
			checkErr(t, tt.name, s.Transact(ctx, tt.fn), tt.want)
		}

		r := s.Read(ctx)
		c, err := r.Challenge("chall-1")
		if err != nil || c.Status != "valid" || c.ValidatedAt == nil ||
			!c.ValidatedAt.Equal(validated) || c.Record != `{"url":"x"}` {
			t.Errorf("Challenge: got %+v, %v, want valid at %v", c, err, validated)
		}
		got, err := r.ReusableAuthorization("acct-1", "dns", "example.com", false, "",
			epoch, false)
		if err != nil || got.ID != "authz-1" {
			t.Errorf("ReusableAuthorization: got %+v, %v, want authz-1", got, err)
		}
		_, err = r.ReusableAuthorization("acct-1", "dns", "example.com", false, "",
			epoch.Add(2*time.Hour), false)
		checkErr(t, "ReusableAuthorization past expiry", err, store.ErrNotFound)
		transact(t, s, func(tx *store.Tx) error {
			return tx.ExtendAuthorization("authz-1", epoch.Add(3*time.Hour))
		})
		got, err = r.ReusableAuthorization("acct-1", "dns", "example.com", false, "",
			epoch.Add(2*time.Hour), false)
		if err != nil || got.ID != "authz-1" || !got.Expires.Equal(epoch.Add(3*time.Hour)) {
			t.Errorf("ReusableAuthorization after extending: got %+v, %v, want authz-1", got, err)
		}
		valid, err := r.ValidAuthorizationsFor("acct-1", []string{"example.com", "x.test"}, epoch)
		if err != nil || len(valid) != 1 {
			t.Errorf("ValidAuthorizationsFor: got %d, %v, want 1", len(valid), err)
		}
	})
}
