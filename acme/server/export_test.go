package server

import "github.com/labstack/echo/v4"

// AddRoute registers h behind the server's middleware and error handler,
// so that tests can see how those treat a handler's error or panic. Call it
// before the server handles requests.
func AddRoute(s *Server, method, path string, h echo.HandlerFunc) {
	s.echo.Add(method, path, h)
}
