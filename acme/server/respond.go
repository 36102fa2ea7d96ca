package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// writeJSON sends v with the given status as application/json.
func writeJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, "application/json")
	c.Response().WriteHeader(status)
	return jsonEncode(c.Response(), v)
}

func (s *Server) pemFile(data []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(data) == 0 {
			return echo.ErrNotFound
		}
		return c.Blob(http.StatusOK, "application/x-pem-file", data)
	}
}
